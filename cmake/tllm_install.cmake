# `cmake --install` and `cpack`: bin/tritonllm (the kernels and the vocabulary are inside it, so it reads no other
# file of ours at run time), the docs, and share/doc/tritonllm/THIRD_PARTY_NOTICES.md with the licenses of everything
# compiled in or shipped beside it.
#
# TLLM_BUNDLE_RUNTIME (the `portable` preset) makes the installed tree run on any x86-64 Linux with glibc and an
# NVIDIA driver: every shared library that is not glibc's is copied into lib/, found through the executable's
# DT_RPATH $ORIGIN/../lib (DT_RPATH rather than DT_RUNPATH because the loader applies an executable's DT_RPATH to the
# libraries' own dependencies too, so libcurl finds its bundled libnghttp2).
include(GNUInstallDirs)
option(TLLM_BUNDLE_RUNTIME "Install the non-glibc shared libraries beside the binary (lib/, found via \$ORIGIN)" OFF)

install(TARGETS tritonllm RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")
install(CODE "
  set(TLLM_EXECUTABLE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/tritonllm\")
  set(TLLM_LIB_DIR \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib\")
  set(TLLM_DOC_DIR \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  set(TLLM_BUNDLE_RUNTIME ${TLLM_BUNDLE_RUNTIME})
  set(TLLM_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(TLLM_VOCAB_LICENSE \"${TLLM_O200K_BASE_PATH}\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/install_runtime.cmake\")
")

if(TLLM_BUNDLE_RUNTIME)
  set_target_properties(tritonllm PROPERTIES BUILD_WITH_INSTALL_RPATH ON INSTALL_RPATH "\$ORIGIN/../lib")
  target_link_options(tritonllm PRIVATE -Wl,--disable-new-dtags)
endif()

set(CPACK_GENERATOR TGZ)
set(CPACK_PACKAGE_NAME tritonllm)
set(CPACK_PACKAGE_VENDOR tritonllm)
set(CPACK_PACKAGE_FILE_NAME "tritonllm-${PROJECT_VERSION}-linux-${CMAKE_SYSTEM_PROCESSOR}")
set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/package")
include(CPack)
