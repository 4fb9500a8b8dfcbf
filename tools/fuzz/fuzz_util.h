// tools/fuzz/fuzz_util.h — small helpers shared by the libFuzzer targets in this folder.
//
// A target's entry point is LLVMFuzzerTestOneInput(data, size): it must accept any bytes, never crash,
// and keep no state between inputs that changes what the next input does. FUZZ_CHECK states a property
// the code promises (a round trip, two ways of parsing agreeing); when it fails, the target aborts, which
// libFuzzer reports as a crash with the input that caused it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

// UBSan's defaults for every target, however it is started (tools/fuzz.sh or by hand to replay a crash):
// stop at the first report, with a stack, except for the third-party reports in ubsan.supp.
extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:suppressions=" SETTEE_UBSAN_SUPPRESSIONS;
}

namespace settee::fuzz {

inline std::string_view asText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits `text` at its first newline: {first line, the rest}. Several targets take two inputs this way
// (a boundary and a body, a selector and documents), which keeps seed files readable.
inline std::pair<std::string_view, std::string_view> splitLine(std::string_view text) {
  size_t nl = text.find('\n');
  // The empty rest still points into `text`: simdjson (like memcpy) must not be handed a null pointer.
  if (nl == std::string_view::npos) return {text, text.substr(text.size())};
  return {text.substr(0, nl), text.substr(nl + 1)};
}

}  // namespace settee::fuzz
