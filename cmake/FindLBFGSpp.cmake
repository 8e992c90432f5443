# FindLBFGSpp: LBFGS++, the header-only L-BFGS solver on Eigen (Debian: liblbfgspp-dev),
# which installs no CMake package of its own.
#
# Defines LBFGSpp_FOUND, LBFGSpp_INCLUDE_DIR and the imported target LBFGSpp::LBFGSpp.
find_path(LBFGSpp_INCLUDE_DIR NAMES LBFGS.h PATH_SUFFIXES include)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LBFGSpp REQUIRED_VARS LBFGSpp_INCLUDE_DIR)
if(LBFGSpp_FOUND AND NOT TARGET LBFGSpp::LBFGSpp)
  add_library(LBFGSpp::LBFGSpp INTERFACE IMPORTED)
  set_target_properties(LBFGSpp::LBFGSpp PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${LBFGSpp_INCLUDE_DIR}")
  find_package(Eigen3 3.4 REQUIRED NO_MODULE)
  target_link_libraries(LBFGSpp::LBFGSpp INTERFACE Eigen3::Eigen)
endif()
mark_as_advanced(LBFGSpp_INCLUDE_DIR)
