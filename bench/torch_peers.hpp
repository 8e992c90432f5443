#pragma once
// libtorch (C++ API) peers, one intra-op and one inter-op thread, behind the plain
// interface of support/peer.hpp so that the fusegrad / Eigen translation units never
// include torch headers. Two implementations:
//   torch_peers.cpp       the real one, built when libtorch is found
//   torch_peers_none.cpp  a stand-in (available() == false, factories return nullptr)
//
// One call() is what a libtorch user writes per step: clear the gradients (set to
// undefined, as optimizer.zero_grad(set_to_none=true)), build the loss, backward(), read
// the loss with item() and touch one element of each gradient.
#include "support/peer.hpp"

#include <memory>
#include <string>

namespace torch_peers {
#include "support/peer_factories.inc"
}  // namespace torch_peers
