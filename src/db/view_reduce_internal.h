// view_reduce_internal.h — what the files of the built-in reduces (view_reduce.cc: _sum, _count and the
// choice of built-in; view_reduce_stats.cc: _stats, _approx_count_distinct) share.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>

#include "db/view_reduce.h"

namespace settee::db::detail {

using JValue = rapidjson::Value;
using JDoc = rapidjson::Document;

// Parses a row's value into `doc`; bad_request when it is not JSON.
Status parseValue(JDoc& doc, std::string_view json);
// A decoded JSON value as Erlang's io_lib:format ~p writes it (strings as <<"...">>, objects as
// {[{K,V}]}): how CouchDB's reduce errors show a value.
std::string erlangTerm(const JValue& v);

std::unique_ptr<BuiltinReduce> makeStatsReduce();
std::unique_ptr<BuiltinReduce> makeApproxCountDistinctReduce();

}  // namespace settee::db::detail
