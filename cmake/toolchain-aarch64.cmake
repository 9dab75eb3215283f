# CMake toolchain for cross-compiling hearth to aarch64 Linux with Debian's g++-aarch64-linux-gnu;
# test binaries run through qemu-user (CMAKE_CROSSCOMPILING_EMULATOR), so ctest works unchanged.
#   cmake -S . -B build-arm -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(HEARTH_AARCH64_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${HEARTH_AARCH64_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${HEARTH_AARCH64_TRIPLE}-g++)

# Target libraries and headers come only from the cross sysroot (never the x86-64 ones in /usr);
# programs (ccache, python, pkg-config) from the host.
set(HEARTH_AARCH64_SYSROOT /usr/${HEARTH_AARCH64_TRIPLE})
set(CMAKE_FIND_ROOT_PATH ${HEARTH_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# qemu-aarch64 (package qemu-user) runs the tests; -L points it at the cross glibc and loader.
find_program(HEARTH_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(HEARTH_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${HEARTH_QEMU_AARCH64} -L ${HEARTH_AARCH64_SYSROOT})
endif()
