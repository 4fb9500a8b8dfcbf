// view_reduce.cc — CouchDB's built-in reduces in C++ (view_reduce.h), after couch_query_servers.erl:
// builtin_sum_rows / sum_values, builtin_stats / stat_values, and _approx_count_distinct's HyperLogLog.
#include "db/view_reduce.h"

#include <rapidjson/document.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "db/collate_key.h"
#include "db/json.h"

namespace settee::db {
namespace {

using JValue = rapidjson::Value;
using JDoc = rapidjson::Document;
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

Status parseValue(JDoc& doc, std::string_view json) {
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return badRequest("Invalid JSON value in a view row: " + std::string(json));
  return Status::ok();
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

std::string erlangTerm(const JValue& v) {
  std::string out;
  appendErlang(out, v);
  return out;
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

// ---- _stats ----

// A number as Erlang keeps it: an integer while it is one, else a double.
struct Num {
  bool isInt = true;
  int64_t i = 0;
  double d = 0;
  static Num of(const JValue& v) {
    if (v.IsInt64() && !v.IsDouble()) return Num{true, v.GetInt64(), 0};
    return Num{false, 0, v.GetDouble()};
  }
  double asDouble() const { return isInt ? static_cast<double>(i) : d; }
  Num plus(const Num& o) const {
    int64_t r = 0;
    if (isInt && o.isInt && !__builtin_add_overflow(i, o.i, &r)) return Num{true, r, 0};
    return Num{false, 0, asDouble() + o.asDouble()};
  }
  Num times(const Num& o) const {
    int64_t r = 0;
    if (isInt && o.isInt && !__builtin_mul_overflow(i, o.i, &r)) return Num{true, r, 0};
    return Num{false, 0, asDouble() * o.asDouble()};
  }
  bool less(const Num& o) const { return (isInt && o.isInt) ? i < o.i : asDouble() < o.asDouble(); }
  void write(JsonWriter& w) const {
    if (isInt)
      w.Int64(i);
    else
      w.Double(d);
  }
};

struct Stat {
  Num sum, count, min, max, sumsqr;
  static Stat of(const Num& n) { return Stat{n, Num{true, 1, 0}, n, n, n.times(n)}; }
  void merge(const Stat& o) {
    sum = sum.plus(o.sum);
    count = count.plus(o.count);
    // Erlang's min/max keep the first of two equal numbers.
    if (o.min.less(min)) min = o.min;
    if (max.less(o.max)) max = o.max;
    sumsqr = sumsqr.plus(o.sumsqr);
  }
  void write(JsonWriter& w) const {
    w.StartObject();
    writeKey(w, "sum");
    sum.write(w);
    writeKey(w, "count");
    count.write(w);
    writeKey(w, "min");
    min.write(w);
    writeKey(w, "max");
    max.write(w);
    writeKey(w, "sumsqr");
    sumsqr.write(w);
    w.EndObject();
  }
};

Status statsInvalid(std::string reason) {
  return Status(ErrorCode::Internal, std::move(reason), "invalid_value");
}

Status statError(const JValue& v) {
  return statsInvalid("The _stats function requires that map values be numbers or arrays of numbers, not '" +
                      erlangTerm(v) + "'");
}

// A pre-aggregated stats object (CouchDB's unpack_stats): its five members must be numbers.
Result<Stat> unpackStats(const JValue& obj) {
  Stat s;
  Num* fields[] = {&s.sum, &s.count, &s.min, &s.max, &s.sumsqr};
  const char* names[] = {"sum", "count", "min", "max", "sumsqr"};
  for (int k = 0; k < 5; ++k) {
    auto m = obj.FindMember(names[k]);
    if (m == obj.MemberEnd())
      return statsInvalid(std::string("user _stats input missing required field ") + names[k] + " (" +
                          erlangTerm(obj) + ")");
    if (!m->value.IsNumber())
      return statsInvalid(std::string("non-numeric _stats input received for ") + names[k] + ": " +
                          erlangTerm(m->value));
    *fields[k] = Num::of(m->value);
  }
  return s;
}

// One element's statistics: a number, or a pre-aggregated object.
Result<Stat> statOf(const JValue& v, bool first) {
  if (v.IsNumber()) return Stat::of(Num::of(v));
  if (v.IsObject()) return unpackStats(v);
  if (first) return statsInvalid("non-numeric _stats input: " + erlangTerm(v));
  return statError(v);
}

class StatsReduce final : public BuiltinReduce {
 public:
  Status add(std::string_view, std::string_view value) override {
    if (Status st = parseValue(in_, value); !st) return st;
    return addValue(in_);
  }
  Status merge(const BuiltinReduce& other) override {
    const auto& o = dynamic_cast<const StatsReduce&>(other);
    if (!o.started_) return Status::ok();
    if (!started_) {
      *this = o;
      return Status::ok();
    }
    if (o.isArray_ != isArray_ || o.stats_.size() != stats_.size())
      return statsInvalid(
          "The _stats function requires that map values be numbers or arrays of numbers of one length");
    for (size_t i = 0; i < stats_.size(); ++i) stats_[i].merge(o.stats_[i]);
    return Status::ok();
  }
  Result<std::string> final() const override {
    JsonBuffer buf;
    JsonWriter w(buf);
    if (!started_) {
      Stat{}.write(w);  // CouchDB's {0, 0, 0, 0, 0} for no rows
    } else if (isArray_) {
      w.StartArray();
      for (const Stat& s : stats_) s.write(w);
      w.EndArray();
    } else {
      stats_.front().write(w);
    }
    return std::string(bufferView(buf));
  }

 private:
  StatsReduce& operator=(const StatsReduce& o) {
    started_ = o.started_;
    isArray_ = o.isArray_;
    stats_ = o.stats_;
    return *this;
  }

  Status addValue(const JValue& v) {
    if (!started_) {
      // build_initial_accumulator
      if (v.IsArray()) {
        isArray_ = true;
        for (const JValue& item : v.GetArray()) {
          auto s = statOf(item, true);
          if (!s) return s.status();
          stats_.push_back(*s);
        }
      } else {
        auto s = statOf(v, true);
        if (!s) return s.status();
        stats_.push_back(*s);
      }
      started_ = true;
      return Status::ok();
    }
    // stat_values
    if (v.IsArray()) {
      if (!isArray_ || v.Size() != stats_.size()) return statError(v);
      for (size_t i = 0; i < stats_.size(); ++i) {
        auto s = statOf(v[static_cast<rapidjson::SizeType>(i)], false);
        if (!s) return s.status();
        stats_[i].merge(*s);
      }
      return Status::ok();
    }
    if (isArray_) return statError(v);
    auto s = statOf(v, false);
    if (!s) return s.status();
    stats_.front().merge(*s);
    return Status::ok();
  }

  JDoc in_;
  bool started_ = false;
  bool isArray_ = false;
  std::vector<Stat> stats_;
};

// ---- _approx_count_distinct ----

// A HyperLogLog sketch of 2^11 registers (CouchDB's couch_hyper:new(11)): about 2% standard error, exact
// in practice for a few hundred distinct keys (linear counting). Keys are hashed by their collation key,
// so keys CouchDB's collation calls equal (1 and 1.0) count once.
class ApproxCountDistinctReduce final : public BuiltinReduce {
 public:
  static constexpr int kPrecision = 11;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;

  Status add(std::string_view key, std::string_view) override {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element value;
    if (parser.parse(key.data(), key.size(), true).get(value))
      return badRequest("Invalid JSON key in a view row: " + std::string(key));
    ckey_.clear();
    appendCollationKey(value, ckey_);
    const uint64_t h = hash(ckey_);
    const size_t index = static_cast<size_t>(h >> (64 - kPrecision));
    // The rank of the first 1 bit in the remaining bits; the guard bit bounds it.
    const uint64_t rest = (h << kPrecision) | (uint64_t{1} << (kPrecision - 1));
    const uint8_t rank = static_cast<uint8_t>(std::countl_zero(rest) + 1);
    registers_[index] = std::max(registers_[index], rank);
    return Status::ok();
  }
  Status merge(const BuiltinReduce& other) override {
    const auto& o = dynamic_cast<const ApproxCountDistinctReduce&>(other);
    for (size_t i = 0; i < kRegisters; ++i) registers_[i] = std::max(registers_[i], o.registers_[i]);
    return Status::ok();
  }
  Result<std::string> final() const override {
    const double m = static_cast<double>(kRegisters);
    double sum = 0;
    size_t zeros = 0;
    for (uint8_t r : registers_) {
      sum += std::ldexp(1.0, -static_cast<int>(r));
      if (r == 0) ++zeros;
    }
    const double alpha = 0.7213 / (1 + 1.079 / m);
    double estimate = alpha * m * m / sum;
    if (estimate <= 2.5 * m && zeros > 0) estimate = m * std::log(m / static_cast<double>(zeros));
    return std::to_string(static_cast<uint64_t>(std::llround(estimate)));
  }

 private:
  // FNV-1a, then MurmurHash3's 64-bit finaliser so every output bit depends on every input bit (the
  // sketch reads the top bits and the leading zeros of the rest).
  static uint64_t hash(std::string_view bytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
  }

  std::array<uint8_t, kRegisters> registers_{};
  std::string ckey_;
};

}  // namespace

bool isBuiltinReduce(std::string_view source) { return builtinOf(source) != Builtin::None; }

std::unique_ptr<BuiltinReduce> BuiltinReduce::make(std::string_view source) {
  switch (builtinOf(source)) {
    case Builtin::Sum:
      return std::make_unique<SumReduce>();
    case Builtin::Count:
      return std::make_unique<CountReduce>();
    case Builtin::Stats:
      return std::make_unique<StatsReduce>();
    case Builtin::ApproxCountDistinct:
      return std::make_unique<ApproxCountDistinctReduce>();
    case Builtin::None:
      break;
  }
  return nullptr;
}

}  // namespace settee::db
