#pragma once
// (being written)
#include "../expr/functions.hpp"
