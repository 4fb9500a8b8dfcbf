// view_reduce_stats.cc — the built-in _stats (couch_query_servers.erl's builtin_stats / stat_values)
// and _approx_count_distinct (a HyperLogLog sketch, as couch_hyper) reduces (view_reduce.h).
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "db/collate_key.h"
#include "db/json.h"
#include "db/view_reduce_internal.h"

namespace settee::db::detail {
namespace {

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

std::unique_ptr<BuiltinReduce> makeStatsReduce() { return std::make_unique<StatsReduce>(); }
std::unique_ptr<BuiltinReduce> makeApproxCountDistinctReduce() {
  return std::make_unique<ApproxCountDistinctReduce>();
}

}  // namespace settee::db::detail
