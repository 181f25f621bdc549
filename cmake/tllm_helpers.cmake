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

# cpp-httplib (Debian: libcpp-httplib-dev) as the target named by TLLM_HTTPLIB: Debian's ships a pkg-config file
# (and a compiled library), newer releases a CMake package.
macro(tllm_find_httplib)
  if(NOT TARGET httplib::httplib AND NOT TARGET PkgConfig::TLLM_CPP_HTTPLIB)
    find_package(httplib CONFIG QUIET)
    if(NOT TARGET httplib::httplib)
      find_package(PkgConfig REQUIRED)
      pkg_check_modules(TLLM_CPP_HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)
    endif()
  endif()
  if(TARGET httplib::httplib)
    set(TLLM_HTTPLIB httplib::httplib)
  else()
    set(TLLM_HTTPLIB PkgConfig::TLLM_CPP_HTTPLIB)
  endif()
endmacro()
