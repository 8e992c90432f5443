// Compiled as C++17 (test compile_fail_needs_cxx20), fusegrad must stop at once with one
// message saying that it needs C++20, instead of hundreds of errors about concepts.
#include <fusegrad/fusegrad.hpp>

int main() { return 0; }
