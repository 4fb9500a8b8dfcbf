// mango_find_internal.h — what the parts of Mango's find (mango_find.cc, mango_explain.cc, mango_fields.cc)
// share and nothing else includes.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "db/mango_plan.h"
#include "settee/query.h"

namespace settee::db {

// "a.b\.c" -> {"a", "b.c"}: a field of `fields`, `sort` or an index, split as selectors split it.
std::vector<std::string> splitFieldPath(std::string_view field);

// `doc` cut down to `fields` (CouchDB's mango_fields:extract): each path present in the document, nested
// objects rebuilt along the way, in the order the fields were asked; absent ones left out.
std::string projectFields(simdjson::dom::element doc, const std::vector<std::vector<std::string>>& fields);

// A document with `_id` `id` and `values[i]` at `paths[i]`: what a covering index's row stands for.
std::string buildDoc(const std::vector<std::vector<std::string>>& paths,
                     const std::vector<simdjson::dom::element>& values, std::string_view id);

// CouchDB's warnings for a finished query, in its order.
std::vector<std::string> findWarnings(const FindPlan& plan, const FindStats& stats);

}  // namespace settee::db
