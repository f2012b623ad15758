# Turns the dashboard's web files into a C++ source of byte arrays.
# cmake -DOUTPUT=web_assets.cc -DINPUTS="a;b" -P embed_web_assets.cmake
set(body "")
set(table "")
set(index 0)
foreach(input IN LISTS INPUTS)
  get_filename_component(name "${input}" NAME)
  file(READ "${input}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # Break the array into lines of 32 bytes so compilers and editors cope.
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" bytes "${bytes}")
  string(APPEND body "const unsigned char kAsset${index}[] = {\n${bytes}0x00};\n")
  string(APPEND table "    {\"${name}\", kAsset${index}, ${size}},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp"
"// Generated from services/dashboard/web by embed_web_assets.cmake; do not edit.
#include \"web_assets.h\"

namespace callguard::dashboard {
namespace {
${body}}  // namespace

const WebAsset kWebAssets[] = {
${table}};
const size_t kWebAssetCount = ${index};

}  // namespace callguard::dashboard
")
# Only touch the output when it changed, so an unchanged asset set recompiles nothing.
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
