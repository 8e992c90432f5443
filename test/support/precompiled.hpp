#pragma once
// The headers every test includes, compiled once into a precompiled header
// (test/CMakeLists.txt) and reused by every test executable with the same flags.
// Tests still include what they use; this header only makes that cheaper.
#include <doctest/doctest.h>
#include <fusegrad/fusegrad.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>
