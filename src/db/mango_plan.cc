// mango_plan.cc — see mango_plan.h.
#include "db/mango_plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "db/collate_key.h"

namespace settee::db {
namespace {

using Op = Selector::Condition::Op;
using Kind = MangoValue::Kind;

// Whether the sort can be read from an index with `columns` in key order: the sort is a prefix of the
// columns once the columns the selector fixes with $eq are passed over (mango_idx_view:can_use_sort).
bool canUseSort(const std::vector<std::string>& columns, const std::vector<std::string>& sort,
                const Selector& selector) {
  if (sort.empty()) return true;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == sort.front()) {
      if (columns.size() - i < sort.size()) return false;
      return std::equal(sort.begin(), sort.end(), columns.begin() + static_cast<long>(i));
    }
    if (!selector.isConstantField(columns[i])) return false;
  }
  return false;
}

// Narrows `r` by one condition.
void narrow(FieldRange& r, Op op, const MangoValue& v) {
  auto raiseLow = [&](const MangoValue& low, bool inclusive) {
    if (r.low) {
      int c = collate(low, *r.low);
      if (c < 0 || (c == 0 && (inclusive || !r.lowInclusive))) return;  // the present bound is as tight
    }
    r.low = low;
    r.lowInclusive = inclusive;
  };
  auto lowerHigh = [&](const MangoValue& high, bool inclusive, bool prefix = false) {
    if (r.high) {
      int c = collate(high, *r.high);
      if (c > 0 || (c == 0 && (inclusive || !r.highInclusive))) return;
    }
    r.high = high;
    r.highInclusive = inclusive;
    r.highIsPrefix = prefix;
  };
  switch (op) {
    case Op::Eq:
      raiseLow(v, true);
      lowerHigh(v, true);
      break;
    case Op::Gt:
      raiseLow(v, false);
      break;
    case Op::Gte:
      raiseLow(v, true);
      break;
    case Op::Lt:
      lowerHigh(v, false);
      break;
    case Op::Lte:
      lowerHigh(v, true);
      break;
    case Op::BeginsWith: {
      // CouchDB's range for a prefix: from the prefix itself to the prefix followed by U+10FFFF, which
      // collates after any character that can follow it.
      raiseLow(v, true);
      MangoValue high = v;
      high.string += "\xF4\x8F\xBF\xBF";
      lowerHigh(high, true, true);
      break;
    }
    default:
      return;
  }
  if (r.low && r.high) {
    int c = collate(*r.low, *r.high);
    if (c > 0 || (c == 0 && !(r.lowInclusive && r.highInclusive))) r.empty = true;
  }
}

bool indexable(Op op) { return op != Op::Other; }

struct Analysis {
  std::vector<std::string> indexableFields;  // one per indexable condition, in selector order (CouchDB
                                             // counts a field once per condition)
  std::map<std::string, FieldRange> ranges;
  bool anyEmpty = false;
};

Analysis analyse(const Selector& selector) {
  Analysis a;
  for (const auto& c : selector.topConditions()) {
    if (!indexable(c.op)) continue;
    a.indexableFields.push_back(c.field);
    FieldRange& r = a.ranges[c.field];
    narrow(r, c.op, c.value);
    if (r.empty) a.anyEmpty = true;
  }
  return a;
}

// One usable index with what choose_best_index compares.
struct Ranked {
  const IndexSpec* spec;
  std::vector<FieldRange> prefix;
  size_t difference;
  size_t width;
};

bool better(const Ranked& a, const Ranked& b) {
  if (a.difference != b.difference) return a.difference < b.difference;
  if (a.width != b.width) return a.width < b.width;
  return std::tie(a.spec->ddoc, a.spec->name) < std::tie(b.spec->ddoc, b.spec->name);
}

bool namedBy(const std::vector<std::string>& useIndex, const std::optional<IndexSpec>& index) {
  if (useIndex.empty() || !index) return false;
  std::string ddoc = useIndex[0].rfind("_design/", 0) == 0 ? useIndex[0] : "_design/" + useIndex[0];
  if (index->ddoc != ddoc) return false;
  return useIndex.size() < 2 || index->name == useIndex[1];
}

bool covers(const std::vector<std::string>& columns, const std::vector<std::string>& fields,
            const std::vector<std::string>& selectorFields) {
  if (fields.empty()) return false;
  auto inIndex = [&](const std::string& f) {
    return f == "_id" || std::find(columns.begin(), columns.end(), f) != columns.end();
  };
  return std::all_of(fields.begin(), fields.end(), inIndex) &&
         std::all_of(selectorFields.begin(), selectorFields.end(), inIndex);
}

// An exclusive bound above every string that starts with `bounded` (a $beginsWith bound: the prefix and
// U+10FFFF): the prefix with its last character replaced by U+FFFF, which ICU's root collation sorts after
// every other character (U+10FFFF included, so a string holding U+FFFF after the prefix is not lost); when
// the prefix is empty or already ends in U+FFFF, the empty array, which follows every string.
MangoValue prefixCeiling(std::string bounded) {
  constexpr std::string_view kMax = "\xF4\x8F\xBF\xBF", kFFFF = "\xEF\xBF\xBF";
  bounded.resize(bounded.size() - kMax.size());
  MangoValue v;
  size_t last = bounded.size();
  while (last > 0 && (static_cast<unsigned char>(bounded[last - 1]) & 0xC0) == 0x80) --last;
  if (last == 0 || bounded.substr(last - 1) == kFFFF) {
    v.kind = Kind::Array;
    return v;
  }
  bounded.resize(last - 1);
  v.kind = Kind::String;
  v.string = bounded + std::string(kFFFF);
  return v;
}

// The json index's key range over its leading fields (see mango_index.h): bounds grow field by field while
// the fields before are equalities; an exclusive lower bound and an inclusive upper one get kAfterAll so
// they hold, or pass, every key that extends them.
KeyRange keyRange(const std::vector<FieldRange>& prefix) {
  KeyRange k;
  std::string lower;
  for (const auto& r : prefix) {
    if (!r.low) break;
    appendCollationKey(*r.low, lower);
    k.lower = lower;
    if (!r.lowInclusive) {
      *k.lower += kAfterAll;
      break;
    }
    if (!r.isEq()) break;
  }
  std::string upper;
  bool exclusive = false;
  for (const auto& r : prefix) {
    if (!r.high) break;
    if (r.highIsPrefix) {
      appendCollationKey(prefixCeiling(r.high->string), upper);
      k.upper = upper;
      exclusive = true;
      break;
    }
    appendCollationKey(*r.high, upper);
    k.upper = upper;
    if (!r.highInclusive) {
      exclusive = true;
      break;
    }
    if (!r.isEq()) break;
  }
  if (k.upper && !exclusive) *k.upper += kAfterAll;
  k.lowerInclusive = true;
  k.upperInclusive = !exclusive;
  return k;
}

// The `_id` range for the special index. Ids are strings, and every other JSON value collates wholly
// before (null, booleans, numbers) or after (arrays, objects) every string.
void idRange(const FieldRange& r, FindPlan& plan) {
  if (r.empty) {
    plan.nothing = true;
    return;
  }
  if (r.low) {
    if (r.low->kind == Kind::String) {
      plan.startId = r.low->string;
      plan.startInclusive = r.lowInclusive;
    } else if (r.low->kind > Kind::String) {
      plan.nothing = true;
    }
  }
  if (r.high) {
    if (r.high->kind == Kind::String) {
      plan.endId = r.high->string;
      plan.endInclusive = r.highInclusive;
    } else if (r.high->kind < Kind::String) {
      plan.nothing = true;
    }
  }
}

// {"$or": []} or {"$and": []} alone: CouchDB's cursor reads nothing for them (mango_cursor:maybe_noop_range),
// although the same selector matches every document anywhere else (a _changes filter).
bool noopSelector(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get(obj) != simdjson::SUCCESS || obj.size() != 1) return false;
  auto member = *obj.begin();
  simdjson::dom::array args;
  return (member.key == "$or" || member.key == "$and") && member.value.get(args) == simdjson::SUCCESS &&
         args.size() == 0;
}

}  // namespace

bool FieldRange::isEq() const {
  return !empty && low && high && lowInclusive && highInclusive && collate(*low, *high) == 0;
}

std::vector<std::string> indexColumns(const IndexSpec& index) {
  std::vector<std::string> cols;
  for (const auto& f : index.fields) cols.push_back(f.field);
  return cols;
}

Result<FindPlan> planFind(const FindQuery& query, const std::vector<IndexSpec>& indexes) {
  const Selector& selector = query.selector;
  const FindOptions& opts = query.options;
  std::vector<std::string> sortFields;
  for (const auto& s : opts.sort) sortFields.push_back(s.field);
  const Analysis analysis = analyse(selector);
  const std::vector<std::string> selectorFields = selector.fields();
  std::vector<std::string> wanted = opts.fields;

  // Usability of every index (is_usable), and the sets _explain ranks them by.
  struct Judged {
    std::optional<IndexSpec> index;
    bool partial = false;  // left out: partial and not named by use_index
    bool usable = false;
    std::string reason;
  };
  std::vector<Judged> judged;
  {
    Judged all;
    bool hasId = analysis.ranges.count("_id") > 0;
    bool sortOk = canUseSort({"_id"}, sortFields, selector);
    all.usable = sortFields.empty() || (hasId && sortOk);
    if (!all.usable) all.reason = !hasId ? "field_mismatch" : "sort_order_mismatch";
    judged.push_back(std::move(all));
  }
  for (const auto& spec : indexes) {
    Judged j;
    j.index = spec;
    if (spec.partial && !namedBy(opts.useIndex, j.index)) {
      j.partial = true;
      j.reason = "is_partial";
      judged.push_back(std::move(j));
      continue;
    }
    std::vector<std::string> cols = indexColumns(spec);
    std::vector<std::string> required;
    for (const auto& c : cols) {
      if (c == "_id" || c == "_rev") continue;
      if (std::find(sortFields.begin(), sortFields.end(), c) != sortFields.end()) continue;
      required.push_back(c);
    }
    bool hasFields = selector.missingRequired(required).empty();
    bool sortOk = canUseSort(cols, sortFields, selector);
    j.usable = hasFields && sortOk;
    if (!j.usable) j.reason = !hasFields ? "field_mismatch" : "sort_order_mismatch";
    judged.push_back(std::move(j));
  }

  std::vector<const Judged*> usable;
  for (const auto& j : judged) {
    if (j.usable) usable.push_back(&j);
  }
  if (usable.empty()) {
    return Status(ErrorCode::BadRequest, "No index exists for this sort, try indexing by the sort fields.",
                  "no_usable_index");
  }
  std::vector<const Judged*> filtered;
  for (const Judged* j : usable) {
    if (namedBy(opts.useIndex, j->index)) filtered.push_back(j);
  }
  const bool excludedByUser = !filtered.empty();
  if (filtered.empty()) {
    if (!opts.useIndex.empty() && !opts.allowFallback) {
      return Status(ErrorCode::BadRequest,
                    "The index specified with \"use_index\" is not usable for the query.", "no_usable_index");
    }
    filtered = usable;
  }

  // Json indexes go first (CouchDB tries its view cursor before the special one); the best of them wins.
  std::vector<Ranked> ranked;
  for (const Judged* j : filtered) {
    if (!j->index) continue;
    Ranked r{&*j->index, {}, 0, j->index->fields.size()};
    for (const auto& col : indexColumns(*j->index)) {
      auto it = analysis.ranges.find(col);
      if (it == analysis.ranges.end()) break;
      r.prefix.push_back(it->second);
    }
    r.difference =
        analysis.indexableFields.size() - std::min(analysis.indexableFields.size(), r.prefix.size());
    ranked.push_back(std::move(r));
  }
  std::stable_sort(ranked.begin(), ranked.end(), better);

  FindPlan plan;
  plan.descending = !opts.sort.empty() && opts.sort.front().descending;
  plan.nothing = analysis.anyEmpty || noopSelector(query.selectorJson);
  if (!ranked.empty()) {
    plan.index = *ranked.front().spec;
    plan.prefix = ranked.front().prefix;
    const auto cols = indexColumns(*plan.index);
    plan.covering = covers(cols, wanted, selectorFields);
    plan.scan.range = keyRange(plan.prefix);
    plan.scan.descending = plan.descending;
    for (size_t i = 0; i < cols.size(); ++i) {
      if (auto on = selector.conditionsOn(cols[i])) plan.prefilter.emplace_back(i, std::move(*on));
    }
  } else if (auto id = analysis.ranges.find("_id"); id != analysis.ranges.end()) {
    idRange(id->second, plan);
  }
  if (!opts.useIndex.empty() && !namedBy(opts.useIndex, plan.index)) {
    std::string ddoc =
        opts.useIndex[0].rfind("_design/", 0) == 0 ? opts.useIndex[0].substr(8) : opts.useIndex[0];
    plan.useIndexWarning =
        opts.useIndex.size() < 2
            ? "_design/" + ddoc + " was not used because it does not contain a valid index for this query."
            : "_design/" + ddoc + ", " + opts.useIndex[1] +
                  " was not used because it is not a valid index for this query.";
  }

  // _explain's candidates and their rankings (mango_cursor:extract_candidate_indexes).
  const bool anyUnfavored =
      std::any_of(filtered.begin(), filtered.end(), [&](const Judged* j) { return !j->index && plan.index; });
  const bool anyExcluded = excludedByUser && usable.size() > filtered.size();
  const bool anyNotUsable =
      std::any_of(judged.begin(), judged.end(), [](const Judged& j) { return !j.partial && !j.usable; });
  const int unfavoredRank = std::max<int>(1, static_cast<int>(ranked.size()));
  const int excludedRank = unfavoredRank + (anyUnfavored ? 1 : 0);
  const int notUsableRank = excludedRank + (anyExcluded ? 1 : 0);
  const int partialRank = notUsableRank + (anyNotUsable ? 1 : 0);  // no partitions: no out-of-scope set
  auto isWinner = [&](const Judged& j) {
    if (!j.index || !plan.index) return !j.index && !plan.index;
    return j.index->ddoc == plan.index->ddoc && j.index->name == plan.index->name;
  };
  for (const auto& j : judged) {
    if (isWinner(j)) continue;
    IndexCandidate c;
    c.index = j.index;
    if (j.index) c.covering = covers(indexColumns(*j.index), wanted, selectorFields);
    if (j.partial) {
      c.reason = "is_partial";
      c.ranking = partialRank;
    } else if (!j.usable) {
      c.reason = j.reason;
      c.ranking = notUsableRank;
    } else if (std::find(filtered.begin(), filtered.end(), &j) == filtered.end()) {
      c.usable = true;
      c.reason = "excluded_by_user";
      c.ranking = excludedRank;
    } else if (!j.index) {
      c.usable = true;
      c.reason = "unfavored_type";
      c.ranking = unfavoredRank;
    } else {
      c.usable = true;
      for (size_t n = 0; n < ranked.size(); ++n) {
        if (ranked[n].spec != &*j.index) continue;
        c.ranking = static_cast<int>(n);
        c.reason = ranked[n].difference > 0                      ? "less_overlap"
                   : ranked[n].width > plan.index->fields.size() ? "too_many_fields"
                                                                 : "alphabetically_comes_after";
      }
    }
    plan.candidates.push_back(std::move(c));
  }
  // CouchDB lists them in descending (ddoc, name) order, the special index (no ddoc) last.
  std::stable_sort(plan.candidates.begin(), plan.candidates.end(),
                   [](const IndexCandidate& a, const IndexCandidate& b) {
                     if (!a.index || !b.index) return a.index.has_value() && !b.index.has_value();
                     return std::tie(a.index->ddoc, a.index->name) > std::tie(b.index->ddoc, b.index->name);
                   });
  return plan;
}

}  // namespace settee::db
