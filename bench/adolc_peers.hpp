#pragma once
// ADOL-C peers behind the plain interface of support/peer.hpp, so that the fusegrad /
// Eigen translation units never include ADOL-C headers. Two implementations:
//   adolc_peers.cpp       the real one, built when ADOL-C is found
//   adolc_peers_none.cpp  a stand-in (available() == false, factories return nullptr)
//
// Each factory records the program on an ADOL-C tape once, with the parameters as
// independents and the data as constants; one call() replays it: zos_forward (the value,
// keeping the intermediate values) and fos_reverse (the gradient of the one dependent).
#include "support/peer.hpp"

#include <memory>
#include <string>

namespace adolc_peers {
#include "support/peer_factories.inc"
}  // namespace adolc_peers
