// view_reduce.cc — CouchDB's built-in reduces in C++ (view_reduce.h), after couch_query_servers.erl:
// which source names which built-in, and _sum (builtin_sum_rows / sum_values) and _count here; _stats
// and _approx_count_distinct in view_reduce_stats.cc.
#include "db/view_reduce.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <optional>
#include <vector>

#include "db/json.h"
#include "db/view_reduce_internal.h"

namespace settee::db {
namespace detail {

Status parseValue(JDoc& doc, std::string_view json) {
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return badRequest("Invalid JSON value in a view row: " + std::string(json));
  return Status::ok();
}

}  // namespace detail

namespace {

using detail::JDoc;
using detail::JValue;
using detail::parseValue;

using Alloc = rapidjson::Document::AllocatorType;

constexpr std::string_view kSumError =
    "The _sum function requires that map values be numbers, arrays of numbers, or objects. Objects cannot be "
    "mixed with other data structures. Objects can be arbitrarily nested, provided that the values for all "
    "fields are themselves numbers, arrays of numbers, or objects.";

std::string_view trimmed(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

enum class Builtin { None, Sum, Count, Stats, ApproxCountDistinct };

// CouchDB matches a built-in by its prefix (`<<"_sum", _/binary>>`).
Builtin builtinOf(std::string_view source) {
  source = trimmed(source);
  if (source.starts_with("_sum")) return Builtin::Sum;
  if (source.starts_with("_count")) return Builtin::Count;
  if (source.starts_with("_stats")) return Builtin::Stats;
  if (source.starts_with("_approx_count_distinct")) return Builtin::ApproxCountDistinct;
  return Builtin::None;
}

// Writes `v`, with object members in key order where `sortKeys` (CouchDB's sum_objects sorts them).
void writeValue(JsonWriter& w, const JValue& v, bool sortKeys) {
  if (v.IsObject() && sortKeys) {
    std::vector<const JValue::Member*> members;
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) members.push_back(&*it);
    std::sort(members.begin(), members.end(), [](const JValue::Member* a, const JValue::Member* b) {
      return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
             std::string_view(b->name.GetString(), b->name.GetStringLength());
    });
    w.StartObject();
    for (const JValue::Member* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      writeValue(w, m->value, sortKeys);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const JValue& item : v.GetArray()) writeValue(w, item, sortKeys);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

std::string jsonOf(const JValue& v) {
  JsonBuffer buf;
  JsonWriter w(buf);
  writeValue(w, v, false);
  return std::string(bufferView(buf));
}

// An Erlang term as io_lib:format's ~p writes the decoded JSON (strings are binaries, objects
// {[{K,V}]}): how CouchDB's _stats errors show the value that failed.
void appendErlang(std::string& out, const JValue& v) {
  if (v.IsString()) {
    out += "<<\"";
    for (char c : std::string_view(v.GetString(), v.GetStringLength())) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out += "\">>";
  } else if (v.IsArray()) {
    out.push_back('[');
    bool first = true;
    for (const JValue& item : v.GetArray()) {
      if (!first) out.push_back(',');
      first = false;
      appendErlang(out, item);
    }
    out.push_back(']');
  } else if (v.IsObject()) {
    out += "{[";
    bool first = true;
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (!first) out.push_back(',');
      first = false;
      out.push_back('{');
      appendErlang(out, it->name);
      out.push_back(',');
      appendErlang(out, it->value);
      out.push_back('}');
    }
    out += "]}";
  } else {
    out += jsonOf(v);  // null, true, false and numbers read the same
  }
}

bool isInteger(const JValue& v) { return v.IsInt64() || v.IsUint64(); }
__int128 integerOf(const JValue& v) {
  return v.IsInt64() ? static_cast<__int128>(v.GetInt64()) : static_cast<__int128>(v.GetUint64());
}

// acc += v, exact while both are integers and the sum fits 64 bits, signed or not (Erlang's integers
// are unbounded; past that a double is the nearest we hold).
void addNumbers(JValue& acc, const JValue& v) {
  if (isInteger(acc) && isInteger(v)) {
    const __int128 sum = integerOf(acc) + integerOf(v);
    if (sum >= INT64_MIN && sum <= INT64_MAX) {
      acc.SetInt64(static_cast<int64_t>(sum));
      return;
    }
    if (sum > 0 && sum <= static_cast<__int128>(UINT64_MAX)) {
      acc.SetUint64(static_cast<uint64_t>(sum));
      return;
    }
  }
  acc.SetDouble(acc.GetDouble() + v.GetDouble());
}

bool isIntZero(const JValue& v) { return v.IsInt64() && !v.IsDouble() && v.GetInt64() == 0; }

// ---- _sum ----

// A failed _sum: its answer is an error object (builtin_reduce_error with the value that failed), not
// a failed request, as CouchDB's builtin_sum_rows answers.
struct SumFailure {
  std::string json;
};

std::string sumErrorJson(const JValue& cause) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "error");
  writeString(w, "builtin_reduce_error");
  writeKey(w, "reason");
  writeString(w, kSumError);
  writeKey(w, "caused_by");
  writeValue(w, cause, false);
  w.EndObject();
  return std::string(bufferView(buf));
}

// The elements of `a` from `from` on, as an array: what CouchDB's sum_arrays reports as the cause.
std::string suffixJson(const JValue& a, size_t from) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  for (size_t i = from; i < a.Size(); ++i) writeValue(w, a[static_cast<rapidjson::SizeType>(i)], false);
  w.EndArray();
  return std::string(bufferView(buf));
}

std::string sumErrorWithCause(std::string_view causeJson) {
  JDoc cause;
  cause.Parse(causeJson.data(), causeJson.size());
  return sumErrorJson(cause);
}

// CouchDB's sum_values(Value, Acc): adds `v` into `acc` in place. nullopt on success.
std::optional<SumFailure> sumValues(const JValue& v, JValue& acc, Alloc& alloc);

// sum_arrays(Acc, Value): element-wise, the longer one's tail kept as it is.
std::optional<SumFailure> sumArrays(JValue& acc, const JValue& v, Alloc& alloc) {
  const size_t common = std::min<size_t>(acc.Size(), v.Size());
  for (size_t i = 0; i < common; ++i) {
    JValue& x = acc[static_cast<rapidjson::SizeType>(i)];
    const JValue& y = v[static_cast<rapidjson::SizeType>(i)];
    if (!x.IsNumber() || !y.IsNumber()) return SumFailure{sumErrorWithCause(suffixJson(acc, i))};
    addNumbers(x, y);
  }
  for (size_t i = common; i < v.Size(); ++i)
    acc.PushBack(JValue(v[static_cast<rapidjson::SizeType>(i)], alloc), alloc);
  return std::nullopt;
}

std::optional<SumFailure> sumValues(const JValue& v, JValue& acc, Alloc& alloc) {
  if (v.IsNumber() && acc.IsNumber()) {
    addNumbers(acc, v);
    return std::nullopt;
  }
  if (v.IsArray() && acc.IsArray()) return sumArrays(acc, v, alloc);
  if (v.IsNumber() && acc.IsArray()) {
    JValue one(rapidjson::kArrayType);
    one.PushBack(JValue(v, alloc), alloc);
    return sumArrays(acc, one, alloc);
  }
  if (v.IsArray() && acc.IsNumber()) {
    JValue wrapped(rapidjson::kArrayType);
    wrapped.PushBack(JValue(acc, alloc), alloc);
    if (auto failed = sumArrays(wrapped, v, alloc)) return failed;
    acc = wrapped;
    return std::nullopt;
  }
  if (v.IsObject()) {
    auto error = v.FindMember("error");
    if (error != v.MemberEnd() && error->value.IsString() &&
        std::string_view(error->value.GetString(), error->value.GetStringLength()) == "builtin_reduce_error")
      return SumFailure{jsonOf(v)};
    if (isIntZero(acc)) {
      acc.CopyFrom(v, alloc);
      return std::nullopt;
    }
    if (acc.IsObject()) {
      // sum_objects: members of both are summed, the others kept.
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        auto mine = acc.FindMember(it->name);
        if (mine == acc.MemberEnd()) {
          acc.AddMember(JValue(it->name, alloc), JValue(it->value, alloc), alloc);
        } else if (auto failed = sumValues(it->value, mine->value, alloc)) {
          return failed;
        }
      }
      return std::nullopt;
    }
    // An object after a number or an array: CouchDB's sum_values has no clause for it.
    return SumFailure{sumErrorJson(v)};
  }
  return SumFailure{sumErrorJson(v)};
}

class SumReduce final : public BuiltinReduce {
 public:
  SumReduce() { acc_.SetInt64(0); }
  Status add(std::string_view, std::string_view value) override {
    if (failure_) return Status::ok();  // builtin_sum_rows stops at the first failure
    if (Status st = parseValue(in_, value); !st) return st;
    failure_ = sumValues(in_, acc_, acc_.GetAllocator());
    return Status::ok();
  }
  Status merge(const BuiltinReduce& other) override {
    const auto& o = dynamic_cast<const SumReduce&>(other);
    if (failure_) return Status::ok();
    if (o.failure_) {
      failure_ = o.failure_;
      return Status::ok();
    }
    failure_ = sumValues(o.acc_, acc_, acc_.GetAllocator());
    return Status::ok();
  }
  Result<std::string> final() const override {
    if (failure_) return failure_->json;
    JsonBuffer buf;
    JsonWriter w(buf);
    writeValue(w, acc_, true);
    return std::string(bufferView(buf));
  }

 private:
  JDoc acc_;
  JDoc in_;
  std::optional<SumFailure> failure_;
};

// ---- _count ----

class CountReduce final : public BuiltinReduce {
 public:
  Status add(std::string_view, std::string_view) override {
    ++count_;
    return Status::ok();
  }
  Status merge(const BuiltinReduce& other) override {
    count_ += dynamic_cast<const CountReduce&>(other).count_;
    return Status::ok();
  }
  Result<std::string> final() const override { return std::to_string(count_); }

 private:
  uint64_t count_ = 0;
};

}  // namespace

std::string detail::erlangTerm(const JValue& v) {
  std::string out;
  appendErlang(out, v);
  return out;
}

bool isBuiltinReduce(std::string_view source) { return builtinOf(source) != Builtin::None; }

std::unique_ptr<BuiltinReduce> BuiltinReduce::make(std::string_view source) {
  switch (builtinOf(source)) {
    case Builtin::Sum:
      return std::make_unique<SumReduce>();
    case Builtin::Count:
      return std::make_unique<CountReduce>();
    case Builtin::Stats:
      return detail::makeStatsReduce();
    case Builtin::ApproxCountDistinct:
      return detail::makeApproxCountDistinctReduce();
    case Builtin::None:
      break;
  }
  return nullptr;
}

}  // namespace settee::db
