#pragma once
// (being written)
#include "functions.hpp"
