# Finds the system libraries the addon links. Debian ships XNNPACK and
# pthreadpool as shared libraries without CMake or pkg-config files, so look
# for the header and library directly. scripts/install.js installs them.
find_path(ETN_XNNPACK_INCLUDE xnnpack.h)
find_library(ETN_XNNPACK_LIB NAMES XNNPACK xnnpack)
find_path(ETN_PTHREADPOOL_INCLUDE pthreadpool.h)
find_library(ETN_PTHREADPOOL_LIB NAMES pthreadpool)
find_path(ETN_FLATBUFFERS_INCLUDE flatbuffers/flatbuffers.h)
find_program(ETN_FLATC flatc)

foreach(var ETN_XNNPACK_INCLUDE ETN_XNNPACK_LIB ETN_PTHREADPOOL_INCLUDE ETN_PTHREADPOOL_LIB
            ETN_FLATBUFFERS_INCLUDE ETN_FLATC)
  if(NOT ${var})
    message(FATAL_ERROR "executorch-node: ${var} not found. On Debian/Ubuntu run:\n"
      "  sudo apt-get install -y libxnnpack-dev libpthreadpool-dev libflatbuffers-dev flatbuffers-compiler cmake")
  endif()
endforeach()

set(ETN_SYSTEM_INCLUDE_DIRS ${ETN_XNNPACK_INCLUDE} ${ETN_PTHREADPOOL_INCLUDE} ${ETN_FLATBUFFERS_INCLUDE})
set(ETN_SYSTEM_LIBRARIES ${ETN_XNNPACK_LIB} ${ETN_PTHREADPOOL_LIB})
