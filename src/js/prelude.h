// js/prelude.h — the JavaScript source that query_server.cc runs in each Duktape heap (prelude.cc says
// what it defines). Internal to src/js.
#pragma once

namespace settee::js::detail {

extern const char kPrelude[];

}  // namespace settee::js::detail
