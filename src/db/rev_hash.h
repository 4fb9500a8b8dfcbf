// rev_hash.h — the id a new revision gets, derived exactly as Apache CouchDB 3.4 derives it.
//
// CouchDB (couch_db:new_revid/1) hashes, with MD5, Erlang's external term format of
//   [Deleted, OldStart, OldRev, Body, Atts]      encoded by term_to_binary(_, [{minor_version, 1}])
// where Deleted is the atom true/false; OldStart the parent's generation (0 for a first revision);
// OldRev the parent's hash as CouchDB holds it (16 raw bytes when it is 32 hex characters, the text
// otherwise) or the integer 0 when there is no parent; Body the document without its `_` members as
// jiffy decodes it ({[{Key, Value}, ...]}: strings are binaries, integers Erlang integers, numbers with a
// fraction or exponent floats, true/false/null atoms; a key repeated in one object keeps only its last
// value, at the last position, as jiffy's dedupe_keys does); Atts the list of {Name, Type, Md5} of the
// revision's attachments in reverse order (CouchDB folds them with prepend). With minor_version 1 atoms
// are ATOM_EXT and floats NEW_FLOAT_EXT whatever the OTP release, which is why the ids stay stable;
// tests/db/rev_hash_test.cc proves the result against ids CouchDB 3.4.3 gave (shared transcripts).
//
// The same edit made on Settee and on CouchDB therefore gets the same revision id, so replicating it
// either way creates no conflict. Where the two can still differ (each is a limit of the body Settee
// stores, not of this hash):
//  - an integer outside [-2^63, 2^64-1]: jiffy keeps it exact (an Erlang bignum); Settee's parser
//    (simdjson) refuses the document, so there is no revision to compare. Within that range integers
//    are SMALL_INTEGER_EXT, INTEGER_EXT or SMALL_BIG_EXT exactly as Erlang picks; `-0` is the integer 0
//    on both sides and `-0.0` the float -0.0;
//  - attachments CouchDB compresses on upload (text/*, application/json... with gzip): CouchDB's Md5 is
//    that of its gzip bytes, Settee stores them as sent, so the digest (and the id) differ;
//  - an attachment whose digest is not `md5-<base64>` (only from a peer): CouchDB answers a random id,
//    Settee hashes the digest text, to stay deterministic.
// Floats hash by their IEEE bits: simdjson and jiffy (strtod) both round correctly, so 1.0, 1e3 and
// 0.1 give the same double on both sides.
//
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "db/revision.h"

namespace settee::db {

// The parent of a new revision: none (a first revision), or its generation and hash.
struct RevParent {
  bool exists = false;
  uint64_t gen = 0;
  std::string_view hash;  // must outlive the call
};

// The term CouchDB hashes, as bytes (131 first). `body` is the document's JSON object without its `_`
// members; text that does not parse as JSON is hashed as one binary, so the result stays deterministic.
std::string revisionTerm(bool deleted, const RevParent& parent, std::string_view body,
                         const std::vector<AttachmentInfo>& attachments);

// CouchDB's revision hash for an interactive edit: 32 lowercase hex characters.
std::string couchRevHash(bool deleted, const RevParent& parent, std::string_view body,
                         const std::vector<AttachmentInfo>& attachments);

// term_to_binary of a list of binaries (any OTP release encodes it alike: no atoms, no floats), for
// CouchDB's couch_httpd:make_etag of such a list, e.g. the ids /_uuids answers.
std::string binaryListTerm(const std::vector<std::string>& items);

// CouchDB's make_etag of such a term: the MD5 as one 128-bit number in upper-case base 36, quoted.
std::string couchEtag(std::string_view term);

}  // namespace settee::db
