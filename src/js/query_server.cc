// js/query_server.cc — the Duktape heap behind QueryServer: a counting allocator with a cap, the
// prelude (prelude.cc) evaluated once, and one call of its handler per protocol line.
#include "js/query_server.h"

#include <duktape.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "js/prelude.h"

namespace settee::js {

namespace {

size_t validPrefix(std::string_view text);

// Every block carries its size in a header so that realloc and free can keep the count exact. 16
// bytes keep the payload aligned as malloc's own is (max_align_t).
constexpr size_t kHeader = 16;

struct Budget {
  size_t used = 0;
  size_t cap = 0;
  bool refused = false;  // an allocation was refused since the last command began
};

void* countedAlloc(void* udata, duk_size_t size) {
  auto* b = static_cast<Budget*>(udata);
  if (size > b->cap || b->used + size > b->cap) {
    b->refused = true;
    return nullptr;
  }
  auto* p = static_cast<unsigned char*>(std::malloc(kHeader + size));
  if (!p) {
    b->refused = true;
    return nullptr;
  }
  std::memcpy(p, &size, sizeof size);
  b->used += size;
  return p + kHeader;
}

void countedFree(void* udata, void* ptr) {
  if (!ptr) return;
  auto* b = static_cast<Budget*>(udata);
  auto* p = static_cast<unsigned char*>(ptr) - kHeader;
  size_t size;
  std::memcpy(&size, p, sizeof size);
  b->used -= size;
  std::free(p);
}

void* countedRealloc(void* udata, void* ptr, duk_size_t size) {
  if (!ptr) return countedAlloc(udata, size);
  if (size == 0) {
    countedFree(udata, ptr);
    return nullptr;
  }
  auto* b = static_cast<Budget*>(udata);
  auto* p = static_cast<unsigned char*>(ptr) - kHeader;
  size_t old;
  std::memcpy(&old, p, sizeof old);
  if (size > old && (size > b->cap || b->used - old + size > b->cap)) {
    b->refused = true;
    return nullptr;
  }
  auto* q = static_cast<unsigned char*>(std::realloc(p, kHeader + size));
  if (!q) {
    b->refused = true;
    return nullptr;
  }
  std::memcpy(q, &size, sizeof size);
  b->used = b->used - old + size;
  return q + kHeader;
}

// Duktape calls this for an error with no catcher (e.g. memory refused outside any protected call).
// The heap cannot be used afterwards; the parent sees the process end and starts another.
void fatalHandler(void*, const char* msg) {
  std::fprintf(stderr, "settee js: fatal JavaScript engine error: %s\n", msg ? msg : "(none)");
  std::fflush(stderr);
  std::_Exit(70);
}

std::string errorLine(const char* name, const std::string& reason) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  w.String("error");
  w.String(name);
  w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace

struct QueryServer::Impl {
  Budget budget;
  LogSink log;
  LineSource source;
  duk_context* ctx = nullptr;
  bool broken = false;

  static duk_ret_t writeLog(duk_context* ctx) {
    duk_push_global_stash(ctx);
    duk_get_prop_string(ctx, -1,
                        "\xff"
                        "impl");
    auto* self = static_cast<Impl*>(duk_get_pointer(ctx, -1));
    duk_pop_2(ctx);
    duk_size_t len = 0;
    const char* s = duk_safe_to_lstring(ctx, 0, &len);
    std::string line(s, len);
    toValidUtf8(line);
    if (self && self->log) self->log(line);
    return 0;
  }

  // readLine(): the next command line while a list function runs (getRow), or undefined at the end of
  // the input or when no source was given.
  static duk_ret_t readLine(duk_context* ctx) {
    duk_push_global_stash(ctx);
    duk_get_prop_string(ctx, -1,
                        "\xff"
                        "impl");
    auto* self = static_cast<Impl*>(duk_get_pointer(ctx, -1));
    duk_pop_2(ctx);
    std::string line;
    if (!self || !self->source || !self->source(line)) return 0;
    // Invalid UTF-8 stays out of the engine, as in handle(); the list function then sees the end.
    if (validPrefix(line) != line.size()) return 0;
    duk_push_lstring(ctx, line.data(), line.size());
    return 1;
  }

  static duk_ret_t quit(duk_context* ctx) {
    duk_push_global_stash(ctx);
    duk_get_prop_string(ctx, -1,
                        "\xff"
                        "impl");
    auto* self = static_cast<Impl*>(duk_get_pointer(ctx, -1));
    duk_pop_2(ctx);
    if (self) self->broken = true;
    return 0;
  }

  // Evaluates the prelude and keeps its handler in the heap stash. False if the heap is too small to
  // even hold it.
  bool start() {
    ctx = duk_create_heap(countedAlloc, countedRealloc, countedFree, &budget, fatalHandler);
    if (!ctx) return false;
    duk_push_global_stash(ctx);
    duk_push_pointer(ctx, this);
    duk_put_prop_string(ctx, -2,
                        "\xff"
                        "impl");
    duk_pop(ctx);
    const std::string prelude =
        std::string(detail::kPreludeStart) + detail::kPreludeRender + detail::kPreludeEnd;
    if (duk_peval_lstring(ctx, prelude.data(), prelude.size()) != 0) return false;
    duk_push_c_function(ctx, writeLog, 1);
    duk_push_c_function(ctx, quit, 0);
    duk_push_c_function(ctx, readLine, 0);
    if (duk_pcall(ctx, 3) != 0 || !duk_is_function(ctx, -1)) return false;
    duk_push_heap_stash(ctx);
    duk_dup(ctx, -2);
    duk_put_prop_string(ctx, -2, "handle");
    duk_pop_2(ctx);
    return true;
  }
};

QueryServer::QueryServer(QueryServerOptions options, LogSink log) : impl_(std::make_unique<Impl>()) {
  impl_->budget.cap = options.maxMemory;
  impl_->log = std::move(log);
  if (!impl_->start()) impl_->broken = true;
}

QueryServer::~QueryServer() {
  if (impl_->ctx) duk_destroy_heap(impl_->ctx);
}

bool QueryServer::broken() const { return impl_->broken; }

void QueryServer::setLineSource(LineSource source) { impl_->source = std::move(source); }

size_t QueryServer::heapBytes() const { return impl_->budget.used; }

std::string QueryServer::handle(std::string_view line) {
  Impl& im = *impl_;
  if (!im.ctx || (im.broken && im.budget.refused))
    return errorLine("os_process_error", "the JavaScript engine could not start within its memory cap of " +
                                             std::to_string(im.budget.cap) + " bytes");
  // Duktape keeps invalid UTF-8 as it comes and may write it back out, even as raw control bytes; the
  // node only sends valid UTF-8, so anything else is refused before it reaches the engine.
  if (validPrefix(line) != line.size())
    return errorLine("query_protocol_error", "the command is not valid UTF-8");
  im.budget.refused = false;
  duk_context* ctx = im.ctx;
  duk_idx_t top = duk_get_top(ctx);
  duk_push_heap_stash(ctx);
  duk_get_prop_string(ctx, -1, "handle");
  duk_push_lstring(ctx, line.data(), line.size());
  duk_push_number(ctx, static_cast<double>(line.size()));
  std::string answer;
  if (duk_pcall(ctx, 2) == 0 && duk_is_string(ctx, -1)) {
    duk_size_t len = 0;
    const char* s = duk_get_lstring(ctx, -1, &len);
    answer.assign(s, len);
  } else {
    // The handler catches everything it can; what escapes it is an error while answering (typically
    // memory refused while building the answer).
    duk_size_t len = 0;
    const char* s = duk_safe_to_lstring(ctx, -1, &len);
    answer = errorLine("os_process_error", std::string(s, len));
  }
  duk_set_top(ctx, top);
  if (im.budget.refused) {
    im.broken = true;
    return errorLine("os_process_error", "out of memory: the JavaScript heap reached its cap of " +
                                             std::to_string(im.budget.cap) + " bytes");
  }
  toValidUtf8(answer);
  return answer;
}

namespace {

// The length of the valid UTF-8 sequence at `at` (a surrogate is not valid), or 0.
size_t validSequence(std::string_view text, size_t at) {
  const size_t n = text.size();
  auto byte = [&](size_t i) -> unsigned { return i < n ? static_cast<unsigned char>(text[i]) : 0u; };
  auto cont = [&](size_t i) { return (byte(i) & 0xC0u) == 0x80u; };
  unsigned b0 = byte(at), b1 = byte(at + 1);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(at + 1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 >= 0xA0)) return 0;
    return cont(at + 1) && cont(at + 2) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if ((b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 >= 0x90)) return 0;
    return cont(at + 1) && cont(at + 2) && cont(at + 3) ? 4 : 0;
  }
  return 0;
}

// Where the first invalid sequence starts; text.size() when there is none.
size_t validPrefix(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t len = validSequence(text, i);
    if (!len) break;
    i += len;
  }
  return i;
}

}  // namespace

void toValidUtf8(std::string& text) {
  size_t i = validPrefix(text);  // most answers are valid as they are
  const size_t n = text.size();
  if (i == n) return;
  auto byte = [&](size_t at) -> unsigned { return at < n ? static_cast<unsigned char>(text[at]) : 0u; };
  auto cont = [&](size_t at) { return (byte(at) & 0xC0u) == 0x80u; };
  // U+D800..U+DFFF written as three bytes (CESU-8), or 0.
  auto surrogate = [&](size_t at) -> unsigned {
    if (byte(at) != 0xED || byte(at + 1) < 0xA0 || byte(at + 1) > 0xBF || !cont(at + 2)) return 0;
    return 0xD000u | ((byte(at + 1) & 0x3Fu) << 6) | (byte(at + 2) & 0x3Fu);
  };
  std::string out;
  out.reserve(n + 16);
  out.append(text, 0, i);
  while (i < n) {
    if (size_t len = validSequence(text, i)) {
      out.append(text, i, len);
      i += len;
      continue;
    }
    unsigned hi = surrogate(i);
    unsigned lo = hi >= 0xD800 && hi < 0xDC00 ? surrogate(i + 3) : 0;
    if (lo >= 0xDC00) {
      unsigned cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
      i += 6;
    } else {
      out += "\xef\xbf\xbd";
      i += hi ? 3 : 1;
    }
  }
  text.swap(out);
}

}  // namespace settee::js
