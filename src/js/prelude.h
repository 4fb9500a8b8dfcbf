// js/prelude.h — the JavaScript source that query_server.cc runs in each Duktape heap (prelude.cc says
// what it defines), in three pieces evaluated as one program: kPreludeStart, kPreludeRender
// (prelude_render.cc), kPreludeEnd. Internal to src/js.
#pragma once

namespace settee::js::detail {

extern const char kPreludeStart[];
extern const char kPreludeRender[];
extern const char kPreludeEnd[];

}  // namespace settee::js::detail
