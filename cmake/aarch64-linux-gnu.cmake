# CMake toolchain file: cross-build the runtime (kernels/: kernel library, liblce_delegate.so,
# kernel_selftest, lce-bench-bconv) for 64-bit ARM Linux with Debian's g++-aarch64-linux-gnu.
#   cmake -S kernels -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# The results run on an aarch64 machine, or here under qemu-aarch64-static -L /usr/aarch64-linux-gnu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(LCE_CROSS_PREFIX aarch64-linux-gnu- CACHE STRING "Prefix of the cross tools")
set(CMAKE_C_COMPILER ${LCE_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${LCE_CROSS_PREFIX}g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
