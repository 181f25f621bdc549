# tllm_add_test(NAME SOURCES... [LIBS ...] [LABELS ...])
# One gtest executable per module's tests (tests/<module>/), registered with ctest by test discovery, so each test
# keeps its own name and result.
include(GoogleTest)
function(tllm_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  if("gpu" IN_LIST ARG_LABELS AND NOT TLLM_GPU_TESTS)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main nlohmann_json::nlohmann_json)
  target_compile_definitions(${name} PRIVATE
    TLLM_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TLLM_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data"
    TLLM_BINARY="$<TARGET_FILE:tritonllm>")
  # One translation unit per executable: the test files share their headers' parsing and their template
  # instantiations (gtest's printers and matchers, json), which dominate their compile time.
  set_target_properties(${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0)
  set(labels cpu)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${labels}" DISCOVERY_TIMEOUT 60)
endfunction()

# Source files whose known values assume each float operation is rounded on its own (core/sampling_math.h).
function(tllm_no_fp_contraction)
  set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS -ffp-contract=off SKIP_UNITY_BUILD_INCLUSION ON)
endfunction()

# cpp-httplib as the target named by TLLM_HTTPLIB, compiled into whatever links it as the header-only library it is
# upstream: httplib.h from Debian's source package of libcpp-httplib-dev, which scripts/install-deps.sh unpacks into
# .deps/cpp-httplib/. Debian's binary package is a shared library built with GCC 12, whose libstdc++.so.6 needs
# glibc 2.36, which the portable tarball (glibc 2.34) cannot ask of its users. The features are Debian's build's:
# TLS (OpenSSL), gzip and brotli. Made at the top level, so that the packages it links are seen everywhere.
find_path(TLLM_HTTPLIB_DIR httplib.h PATHS "${PROJECT_SOURCE_DIR}/.deps/cpp-httplib" NO_DEFAULT_PATH
          DOC "cpp-httplib's source (its full httplib.h)")
if(NOT TLLM_HTTPLIB_DIR)
  message(FATAL_ERROR "cpp-httplib's source is missing from .deps/cpp-httplib: run scripts/install-deps.sh")
endif()
find_package(OpenSSL REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(TLLM_BROTLI REQUIRED IMPORTED_TARGET GLOBAL libbrotlienc libbrotlidec)
add_library(tllm_httplib INTERFACE)
# Ahead of the system's include path, where libcpp-httplib-dev's declarations-only httplib.h is.
target_include_directories(tllm_httplib SYSTEM BEFORE INTERFACE "${TLLM_HTTPLIB_DIR}")
target_compile_definitions(tllm_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT CPPHTTPLIB_ZLIB_SUPPORT
                                                  CPPHTTPLIB_BROTLI_SUPPORT)
target_link_libraries(tllm_httplib INTERFACE OpenSSL::SSL OpenSSL::Crypto ZLIB::ZLIB PkgConfig::TLLM_BROTLI
                                             Threads::Threads)
# With the sanitizers' instrumentation (-O1), GCC 12 reports std::function members of std::regex's compiler, which
# httplib.h's inline code instantiates, as maybe used uninitialized: a false positive of the middle end that no
# pragma around the include reaches. Only the files that include httplib.h lose the warning.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND (TLLM_SANITIZE OR TLLM_FUZZ))
  target_compile_options(tllm_httplib INTERFACE -Wno-maybe-uninitialized)
endif()
macro(tllm_find_httplib)
  set(TLLM_HTTPLIB tllm_httplib)
endmacro()
