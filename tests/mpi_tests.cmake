# MPI tests of data-parallel training across processes (salient/distributed/mpi.hpp).
# Included from tests/CMakeLists.txt:  include(${CMAKE_CURRENT_SOURCE_DIR}/mpi_tests.cmake)
#
# Built and registered only when find_package(MPI COMPONENTS CXX) succeeds (Debian:
# libopenmpi-dev openmpi-bin, `bash scripts/setup.sh --mpi`). Sources live in tests/mpi/ so the
# generic tests/test_*.cpp glob does not pick them up. Every run uses
#   mpirun --oversubscribe --allow-run-as-root -np N
# (2 ranks on the 2-core machine; CI runs as root). Total run time: a few seconds.
find_package(MPI COMPONENTS CXX QUIET)
if(MPI_CXX_FOUND)
  add_executable(salient_mpi_fit ${CMAKE_CURRENT_LIST_DIR}/mpi/mpi_fit_tool.cpp)
  target_link_libraries(salient_mpi_fit PRIVATE salient::salient salient_dev_flags MPI::MPI_CXX)
  target_include_directories(salient_mpi_fit PRIVATE ${CMAKE_CURRENT_LIST_DIR})

  add_executable(salient_mpi_unit ${CMAKE_CURRENT_LIST_DIR}/mpi/mpi_unit.cpp)
  target_link_libraries(salient_mpi_unit PRIVATE salient::salient salient_dev_flags MPI::MPI_CXX doctest::doctest)
  target_include_directories(salient_mpi_unit PRIVATE ${CMAKE_CURRENT_LIST_DIR})

  set(_mpirun ${MPIEXEC_EXECUTABLE} --oversubscribe --allow-run-as-root)
  # In-job checks (doctest on every rank): equivalence with a local fit in the same job,
  # validation / early stopping / plateau decisions, training metrics, broadcast at start.
  add_test(NAME mpi_unit COMMAND ${_mpirun} ${MPIEXEC_NUMPROC_FLAG} 2 $<TARGET_FILE:salient_mpi_unit>)
  # Separate jobs: -np 2 twice (bit-identical), vs one process with 2 and 1 threads; a killed
  # rank; a throwing rank; kill mid-run + resume == uninterrupted.
  foreach(mode equivalence kill throw resume)
    add_test(NAME mpi_${mode}
             COMMAND ${CMAKE_COMMAND} -DTOOL=$<TARGET_FILE:salient_mpi_fit> -DMPIRUN=${MPIEXEC_EXECUTABLE}
                     -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/mpi_work/${mode} -DMODE=${mode}
                     -P ${CMAKE_CURRENT_LIST_DIR}/mpi/mpi_test_run.cmake)
  endforeach()
  set_tests_properties(mpi_unit mpi_equivalence mpi_kill mpi_throw mpi_resume PROPERTIES
    TIMEOUT 120 LABELS "mpi" PROCESSORS 2)
  # salient-classify train --distributed under mpirun -np 2 == one process with 2 threads
  # (skipped when the CLI is built without MPI or the GunPoint data is missing).
  if(SALIENT_BUILD_EXAMPLES)
    add_test(NAME mpi_cli
             COMMAND ${CMAKE_COMMAND} -DTOOL=$<TARGET_FILE:salient_mpi_fit> -DEXE=$<TARGET_FILE:salient_classify>
                     -DMPIRUN=${MPIEXEC_EXECUTABLE} -DDATA_DIR=${SALIENT_DATA_DIR}
                     -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/mpi_work/cli -DMODE=cli
                     -P ${CMAKE_CURRENT_LIST_DIR}/mpi/mpi_test_run.cmake)
    set_tests_properties(mpi_cli PROPERTIES TIMEOUT 120 LABELS "mpi;cli" PROCESSORS 2
                         SKIP_REGULAR_EXPRESSION "CLI_TEST_SKIPPED")
  endif()
else()
  message(STATUS "salient: MPI (C++) not found; the mpi_* tests are not built (bash scripts/setup.sh --mpi)")
endif()
