# The cuda backend: libmainstream_cuda.so (src/backend/cuda/), loaded at run time by
# src/backend/backend_module.c. Built when nvcc, the CUDA runtime, cuBLAS and cuDNN are
# found (CUDA_ROOT, default /usr/local/cuda); a machine without them, or without a GPU,
# builds and tests everything else, and the cuda tests skip saying why.
set(MS_CUDA_ROOT "/usr/local/cuda" CACHE PATH "CUDA toolkit with cuDNN and cuBLAS")
set(MS_CUDA_ARCH "sm_90" CACHE STRING "GPU architecture the cuda backend's kernels are built for")
find_program(MS_NVCC nvcc HINTS ${MS_CUDA_ROOT}/bin NO_DEFAULT_PATH)
find_path(MS_CUDNN_INCLUDE cudnn.h HINTS ${MS_CUDA_ROOT}/include)
find_path(MS_CUDART_INCLUDE cuda_runtime.h HINTS ${MS_CUDA_ROOT}/include)
find_library(MS_CUDART cudart HINTS ${MS_CUDA_ROOT}/lib64 ${MS_CUDA_ROOT}/lib)
find_library(MS_CUBLAS cublas HINTS ${MS_CUDA_ROOT}/lib64 ${MS_CUDA_ROOT}/lib)
find_library(MS_CUDNN cudnn HINTS ${MS_CUDA_ROOT}/lib64 ${MS_CUDA_ROOT}/lib)
if(MS_NVCC AND MS_CUDNN_INCLUDE AND MS_CUDART_INCLUDE AND MS_CUDART AND MS_CUBLAS AND MS_CUDNN)
  message(STATUS "cuda backend: building libmainstream_cuda.so (${MS_NVCC}, ${MS_CUDNN})")
  set(MS_CUDA_KERNELS ${CMAKE_CURRENT_BINARY_DIR}/cuda_kernels.o)
  add_custom_command(OUTPUT ${MS_CUDA_KERNELS}
    COMMAND ${MS_NVCC} -c -O3 -std=c++17 -arch=${MS_CUDA_ARCH} -Werror all-warnings
            -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra,-Werror -I${PROJECT_SOURCE_DIR}/src
            -o ${MS_CUDA_KERNELS} ${PROJECT_SOURCE_DIR}/src/backend/cuda/cuda_kernels.cu
    DEPENDS ${PROJECT_SOURCE_DIR}/src/backend/cuda/cuda_kernels.cu ${PROJECT_SOURCE_DIR}/src/backend/cuda/cuda_kernels.h
    COMMENT "nvcc cuda_kernels.cu")
  file(GLOB MS_CUDA_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/backend/cuda/*.c)
  add_library(mainstream_cuda MODULE ${MS_CUDA_SOURCES} ${MS_CUDA_KERNELS})
  target_include_directories(mainstream_cuda PRIVATE ${PROJECT_SOURCE_DIR}/src ${MS_CUDART_INCLUDE} ${MS_CUDNN_INCLUDE})
  # The parts of the core it uses (errors, the graph, ref_copy_graph) come from the static
  # library and stay private to the module; only ms_backend_cuda is exported.
  target_link_libraries(mainstream_cuda PRIVATE mainstream ${MS_CUDNN} ${MS_CUBLAS} ${MS_CUDART} stdc++)
  target_link_options(mainstream_cuda PRIVATE -Wl,--as-needed -Wl,--exclude-libs,ALL -Wl,--no-undefined)
  set_target_properties(mainstream_cuda PROPERTIES PREFIX "lib" C_VISIBILITY_PRESET hidden)
  set(MS_HAVE_CUDA ON)
else()
  message(STATUS "cuda backend: not built (needs nvcc, cudart, cuBLAS and cuDNN under MS_CUDA_ROOT=${MS_CUDA_ROOT})")
endif()
if(MS_HAVE_CUDA)
  add_executable(bench_cuda ${PROJECT_SOURCE_DIR}/bench/cuda_bench.c)
  target_include_directories(bench_cuda PRIVATE ${MS_CUDART_INCLUDE})
  target_link_libraries(bench_cuda PRIVATE mainstream ${MS_CUDART})
  target_link_options(bench_cuda PRIVATE -Wl,--as-needed)
endif()
