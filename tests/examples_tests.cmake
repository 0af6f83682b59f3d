# Short runs of the examples (only when they are built): they must work on the first try.
if(SALIENT_BUILD_EXAMPLES)
  find_program(SALIENT_XMLLINT xmllint)
  add_test(NAME example_quickstart COMMAND quickstart)
  set_tests_properties(example_quickstart PROPERTIES PASS_REGULAR_EXPRESSION "training accuracy: (9[5-9]|100)")
  add_test(NAME example_custom_classifier COMMAND custom_classifier)
  add_test(NAME example_explain_api COMMAND explain_api)
  set_tests_properties(example_explain_api PROPERTIES PASS_REGULAR_EXPRESSION "integrated gradients")
  add_test(NAME example_sensor_defects_small
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:sensor_defects> -DXMLLINT=${SALIENT_XMLLINT}
                   -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/demo_check
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/run_demo_check.cmake)
endif()
