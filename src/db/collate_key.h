// collate_key.h — JSON values as byte strings whose bytewise (memcmp) order is CouchDB's view collation, so
// SQLite's BLOB comparison orders index rows exactly as CouchDB orders view keys.
//
// Order (CouchDB "Views Collation"): null < false < true < numbers < strings < arrays < objects.
// - Numbers by value (1 == 1.0; -0 == 0), as doubles: integers beyond 2^53 round to their nearest double,
//   so neighbours there may share a key (an index still yields them; the selector decides).
// - Strings by ICU's root collation (UCA: "a" < "A" < "b", accents after their base letter), the
//   collation CouchDB's views and Mango use; the bytes are ICU sort keys, equal for strings ICU calls equal.
// - Arrays element by element, a shorter prefix first; objects member by member (key, then value), fewer
//   members first.
//
// Encoding: each value is a type byte (1..7 in the order above) followed by its body; an array or object
// ends with a 0 byte. No value's encoding is a proper prefix of another's unless it is a prefix in the
// collation too, so concatenated encodings (a compound key of several fields) compare field by field.
// Keys cannot be decoded: an index keeps the values beside them when it needs them.
//
// Contract: pure functions, safe from any thread (each thread keeps its own ICU collator).
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

#include "db/mango_value.h"

namespace settee::db {

// Appends the key of `value` to `out`.
void appendCollationKey(simdjson::dom::element value, std::string& out);
void appendCollationKey(const MangoValue& value, std::string& out);

// A byte that sorts after every encoded value: `prefix + kAfterAll` bounds every key that extends prefix.
inline constexpr char kAfterAll = '\xff';

// ICU's collation order of two UTF-8 strings: negative, zero or positive. What Mango's comparison
// operators use for strings, so a query's matcher and its index agree.
int collateStrings(std::string_view a, std::string_view b);

}  // namespace settee::db
