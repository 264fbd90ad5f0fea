# The file parsers that see untrusted bytes first: .npy headers, image headers, model archives, torch.save pickles.
# No LibTorch, no Qt: the fuzz build (tests/fuzz, clang + libFuzzer) compiles this file on its own.
add_library(layerscope_parsers STATIC
    ${CMAKE_CURRENT_LIST_DIR}/src/formats/atomicfile.cpp
    ${CMAKE_CURRENT_LIST_DIR}/src/inputs/imageheader.cpp
    ${CMAKE_CURRENT_LIST_DIR}/src/model/modelfile.cpp
    ${CMAKE_CURRENT_LIST_DIR}/src/formats/npy.cpp
    ${CMAKE_CURRENT_LIST_DIR}/src/formats/ptfile.cpp
    ${CMAKE_CURRENT_LIST_DIR}/src/formats/staging.cpp
    ${CMAKE_CURRENT_LIST_DIR}/src/formats/tensorpickle.cpp
    ${CMAKE_CURRENT_LIST_DIR}/src/formats/zipentry.cpp
    ${CMAKE_CURRENT_LIST_DIR}/src/paths.cpp
    ${CMAKE_CURRENT_LIST_DIR}/src/tensor.cpp
)
target_include_directories(layerscope_parsers PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include PRIVATE ${CMAKE_CURRENT_LIST_DIR}/src)
target_compile_features(layerscope_parsers PUBLIC cxx_std_17)
target_compile_options(layerscope_parsers PRIVATE -Wall -Wextra)
target_link_libraries(layerscope_parsers PRIVATE PkgConfig::LIBZIP)
