// SPDX-License-Identifier: MPL-2.0
#pragma once
// fusegrad's version, the single place it is set: CMakeLists.txt reads these three
// numbers for project() and the package's version file, so a build with CMake, one
// with `-I include` alone and an installed copy all agree.
#define FUSEGRAD_VERSION_MAJOR 0
#define FUSEGRAD_VERSION_MINOR 3
#define FUSEGRAD_VERSION_PATCH 0

#define FUSEGRAD_VERSION_STRING "0.3.0"

// One number for comparisons in the preprocessor: 0.3.0 is 300.
#define FUSEGRAD_VERSION (FUSEGRAD_VERSION_MAJOR * 10000 + FUSEGRAD_VERSION_MINOR * 100 + FUSEGRAD_VERSION_PATCH)
