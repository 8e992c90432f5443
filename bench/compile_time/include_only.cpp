// SPDX-License-Identifier: MPL-2.0
// fusegrad included and not used: what the headers alone cost.
#include <fusegrad/fusegrad.hpp>

int main() { return 0; }
