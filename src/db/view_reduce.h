// view_reduce.h — CouchDB's built-in reduce functions, in C++: `_sum`, `_count`, `_stats` and
// `_approx_count_distinct` ("Built-in Reduce Functions", docs.couchdb.org), with their rereduce.
//
// Semantics (CouchDB 3.4):
// - `_sum`: numbers add; arrays of numbers add element-wise (the shorter padded with 0); objects add
//   member-wise (recursively); mixing a number with an array/object follows CouchDB's rules; anything
//   else is builtin_reduce_error with CouchDB's reason, e.g. "The _sum function requires that map values
//   be numbers, arrays of numbers, or objects. Objects cannot be mixed with other data structures."
// - `_count`: the number of rows (values ignored); rereduce sums the counts.
// - `_stats`: {"sum","count","min","max","sumsqr"} of numeric values (arrays element-wise; a value that
//   already is a stats object is merged), builtin_reduce_error otherwise.
// - `_approx_count_distinct`: the approximate number of distinct KEYS (a HyperLogLog sketch; CouchDB's
//   estimate is close, not identical); rereduce merges sketches.
//
// Contract: pure and thread-safe. An accumulator takes rows in any order and merges with another
// (rereduce), so a caller may reduce a range in pieces. Values and keys are JSON text; an invalid one is
// bad_request. final() gives the minified JSON CouchDB answers.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "settee/status.h"

namespace settee::db {

// Whether `source` names a built-in reduce (after trimming whitespace, as CouchDB does).
bool isBuiltinReduce(std::string_view source);

class BuiltinReduce {
 public:
  // nullptr when `source` is not a built-in.
  static std::unique_ptr<BuiltinReduce> make(std::string_view source);
  virtual ~BuiltinReduce() = default;
  // One map row.
  virtual Status add(std::string_view key, std::string_view value) = 0;
  // The state of another accumulator of the same function (rereduce).
  virtual Status merge(const BuiltinReduce& other) = 0;
  virtual Result<std::string> final() const = 0;
};

}  // namespace settee::db
