# HEARTH_CORE_ONLY: the engine core (tensors, graph, ops, quant formats, GGUF, CPU backend, sampler,
# Jinja) and the unit tests that cover it, with no PCRE2 / ICU / cpp-httplib / Google Benchmark.
# Used by cross builds (cmake/toolchain-aarch64.cmake), where only the cross glibc/libstdc++ exist;
# GoogleTest is built from Debian's sources (/usr/src/googletest). Included from CMakeLists.txt
# after HEARTH_SOURCES holds the ISA-filtered list of src/**/*.cpp.

# Directories whose code needs none of the optional libraries. src/model, src/runtime, src/tokenizer,
# src/server and src/api need the tokenizer (PCRE2 + ICU) or the HTTP server.
set(HEARTH_CORE_DIRS core quant gguf backend sampling chat)
set(HEARTH_CORE_SOURCES "")
foreach(src ${HEARTH_SOURCES})
    foreach(dir ${HEARTH_CORE_DIRS})
        if(src MATCHES "/src/${dir}/")
            list(APPEND HEARTH_CORE_SOURCES ${src})
        endif()
    endforeach()
endforeach()
# backend/placement (the `fit` planner) reads model hyper-parameters through src/model: it stays out.
list(FILTER HEARTH_CORE_SOURCES EXCLUDE REGEX "/src/backend/placement/")

# nlohmann/json is header-only and architecture-independent: expose just its directory (adding all
# of the host's /usr/include would shadow the cross sysroot's C library headers).
find_path(HEARTH_NLOHMANN_DIR nlohmann/json.hpp PATHS /usr/include NO_CMAKE_FIND_ROOT_PATH)
if(NOT HEARTH_NLOHMANN_DIR)
    message(FATAL_ERROR "HEARTH_CORE_ONLY: nlohmann/json.hpp not found (Debian package nlohmann-json3-dev)")
endif()
set(HEARTH_NLOHMANN_SHIM ${CMAKE_BINARY_DIR}/nlohmann-include)
file(MAKE_DIRECTORY ${HEARTH_NLOHMANN_SHIM})
file(CREATE_LINK ${HEARTH_NLOHMANN_DIR}/nlohmann ${HEARTH_NLOHMANN_SHIM}/nlohmann SYMBOLIC)

add_library(hearth_core STATIC ${HEARTH_CORE_SOURCES})
target_include_directories(hearth_core PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
target_include_directories(hearth_core SYSTEM PUBLIC ${HEARTH_NLOHMANN_SHIM})
target_link_libraries(hearth_core PUBLIC Threads::Threads ${CMAKE_DL_LIBS})
if(HEARTH_X86)
    target_compile_definitions(hearth_core PUBLIC HEARTH_X86=1)
endif()

if(HEARTH_TESTS)
    enable_testing()
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK ON CACHE BOOL "" FORCE)
    if(EXISTS /usr/src/googletest/CMakeLists.txt)
        add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
    else()
        message(FATAL_ERROR "HEARTH_CORE_ONLY: /usr/src/googletest missing (Debian package googletest)")
    endif()

    # The unit tests whose #includes stay inside the core (read from the sources, so new test files
    # join or stay out by what they use, not by name).
    file(GLOB HEARTH_ALL_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/*.cpp)
    set(HEARTH_TEST_SOURCES "")
    foreach(test_src ${HEARTH_ALL_TEST_SOURCES})
        file(STRINGS ${test_src} test_includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
        if(NOT test_includes MATCHES "\"(model|runtime|tokenizer|server|api|backend/placement|backend/cuda|hearth)/")
            list(APPEND HEARTH_TEST_SOURCES ${test_src})
        endif()
    endforeach()
    # Re-run the selection whenever a test file changes (its includes may have).
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${HEARTH_ALL_TEST_SOURCES})
    add_executable(hearth_tests ${HEARTH_TEST_SOURCES})
    target_link_libraries(hearth_tests PRIVATE hearth_core GTest::gtest GTest::gtest_main)
    target_compile_definitions(hearth_tests PRIVATE
        HEARTH_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
        HEARTH_SHARED_DIR="${CMAKE_SOURCE_DIR}/../shared"
        HEARTH_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
    if(CMAKE_CROSSCOMPILING_EMULATOR)
        target_compile_definitions(hearth_tests PRIVATE HEARTH_TEST_EMULATED=1)  # no re-exec of itself
    endif()
    # One ctest entry for the whole binary: under qemu, starting a process per test case would cost
    # more than the tests. CMAKE_CROSSCOMPILING_EMULATOR (the toolchain's qemu) prefixes the command.
    add_test(NAME core_units COMMAND hearth_tests --gtest_brief=1)
    set_tests_properties(core_units PROPERTIES TIMEOUT 1800)
endif()
