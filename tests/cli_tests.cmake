# End-to-end tests of the salient-classify command-line tool (examples/salient_classify.cpp).
# Included from tests/CMakeLists.txt:  include(${CMAKE_CURRENT_SOURCE_DIR}/cli_tests.cmake)
#
# The executable is built only with SALIENT_BUILD_EXAMPLES=ON. tests/ is configured before
# examples/, so `if(TARGET salient_classify)` would still be false here; the option is the
# reliable guard, and $<TARGET_FILE:...> is resolved after every directory has been read.
if(SALIENT_BUILD_EXAMPLES OR TARGET salient_classify)
  set(_cli_script ${CMAKE_CURRENT_LIST_DIR}/cli_test_run.cmake)
  # train -> evaluate -> predict -> explain on BasicMotions (skipped when the data is missing).
  add_test(NAME cli_end_to_end
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:salient_classify> -DDATA_DIR=${SALIENT_DATA_DIR}
                   -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/cli_work/e2e -DMODE=e2e -P ${_cli_script})
  # Bad arguments and bad files: one line on stderr, non-zero exit (needs no data).
  add_test(NAME cli_errors
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:salient_classify> -DDATA_DIR=${SALIENT_DATA_DIR}
                   -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/cli_work/errors -DMODE=errors -P ${_cli_script})
  set_tests_properties(cli_end_to_end cli_errors PROPERTIES
    SKIP_REGULAR_EXPRESSION "CLI_TEST_SKIPPED" TIMEOUT 900 LABELS "cli")
endif()
