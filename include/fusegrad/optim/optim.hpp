// SPDX-License-Identifier: MPL-2.0
#pragma once
// Optimizers (SGD, Adam, AdamW) and the saving of parameters and optimizer state.
#include "adam.hpp"
#include "sgd.hpp"
