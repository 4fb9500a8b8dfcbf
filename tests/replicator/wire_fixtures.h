// Answers captured from real peers, for the wire decoders' tests (wire_decoder_test.cc).
//
// CouchDB 3.4.3: copied from ../shared/transcripts/couchdb-replicator-as-seen-by-a-{source,target}.txt
// (what CouchDB answered its own replicator). pouchdb-server 4.2 (compat/'s version, in-memory): captured
// on loopback with the requests named beside each.
#pragma once

namespace settee::test::wire {

// CouchDB 3.4.3: GET /tsrc/_changes?feed=normal&style=all_docs&since=0 (a deletion, a design document,
// a two-leaf conflict; opaque string sequences).
inline constexpr const char* kCouchChanges = R"JSON({"results":[
{"seq":"2-g1AAAAB5eJzLYWBgYMpgTmEQTM4vTc5ISXIwNDLXMwBCwxyQVCJDUv3___-zMpgTmXKBAuwmKYbJhmmG2DTgMSaPBUgyNACp_yDTEhmyAFcCIFs","id":"plain2","changes":[{"rev":"2-742dc27a91278157c747752e62a8f805"}],"deleted":true},
{"seq":"3-g1AAAAB5eJzLYWBgYMpgTmEQTM4vTc5ISXIwNDLXMwBCwxyQVCJDUv3___-zMpgTmXOBAuwmKYbJhmmG2DTgMSaPBUgyNACp_yDTEhmyAFdQIFw","id":"big_att","changes":[{"rev":"1-fcac58a55b988464b0fff4517d4f685a"}]},
{"seq":"4-g1AAAACbeJzLYWBgYMpgTmEQTM4vTc5ISXIwNDLXMwBCwxyQVCJDUv3___-zMpgTmXOBAuwmKYbJhmmG2DTgMSaPBUgyNACp_1DTGMGmJRqYpiRbYjUtCwAmNyh1","id":"_design/app","changes":[{"rev":"1-a3f55aa591cf64ffa4e09bc29c9c3273"}]},
{"seq":"6-g1AAAACbeJzLYWBgYMpgTmEQTM4vTc5ISXIwNDLXMwBCwxyQVCJDUv3___-zMpgTmXOBAuwmKYbJhmmG2DTgMSaPBUgyNACp_yimJRqYpiRbYjUtCwAmeyh3","id":"plain1","changes":[{"rev":"2-199d6f4cb0ab51aafccacee16486d6b3"}]},
{"seq":"7-g1AAAACbeJzLYWBgYMpgTmEQTM4vTc5ISXIwNDLXMwBCwxyQVCJDUv3___-zMpgTmXOBAuwmKYbJhmmG2DTgMSaPBUgyNACp_1DTWMCmJRqYpiRbYjUtCwAmnSh4","id":"conflicted","changes":[{"rev":"2-cccccccccccccccccccccccccccccccc"},{"rev":"2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}]},
{"seq":"8-g1AAAACbeJzLYWBgYMpgTmEQTM4vTc5ISXIwNDLXMwBCwxyQVCJDUv3___-zMpgTmXOBAuwmKYbJhmmG2DTgMSaPBUgyNACp_1DTWMGmJRqYpiRbYjUtCwAmvyh5","id":"small_att","changes":[{"rev":"1-b169928659d15c482e1fedd6b01100fa"}]}
],
"last_seq":"8-g1AAAACbeJzLYWBgYMpgTmEQTM4vTc5ISXIwNDLXMwBCwxyQVCJDUv3___-zMpgTmXOBAuwmKYbJhmmG2DTgMSaPBUgyNACp_1DTWMGmJRqYpiRbYjUtCwAmvyh5","pending":0})JSON";

// CouchDB 3.4.3: POST /tdst2/_revs_diff for big_att, _design/app, plain1, conflicted (two leaves), small_att.
inline constexpr const char* kCouchRevsDiff = R"JSON({"big_att":{"missing":["1-fcac58a55b988464b0fff4517d4f685a"]},"conflicted":{"missing":["2-cccccccccccccccccccccccccccccccc","2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]},"_design/app":{"missing":["1-a3f55aa591cf64ffa4e09bc29c9c3273"]},"plain1":{"missing":["2-199d6f4cb0ab51aafccacee16486d6b3"]},"small_att":{"missing":["1-b169928659d15c482e1fedd6b01100fa"]}})JSON";

// CouchDB 3.4.3: POST /tsrc/_bulk_get?latest=true&revs=true&attachments=false for the two leaves of
// `conflicted` (two entries), plain1 and small_att (an attachment stub).
inline constexpr const char* kCouchBulkGet = R"JSON({"results":[{"id":"conflicted","docs":[{"ok":{"_id":"conflicted","_rev":"2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","side":"b","_revisions":{"start":2,"ids":["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}}}]},{"id":"conflicted","docs":[{"ok":{"_id":"conflicted","_rev":"2-cccccccccccccccccccccccccccccccc","side":"c","_revisions":{"start":2,"ids":["cccccccccccccccccccccccccccccccc","aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}}}]},{"id":"plain1","docs":[{"ok":{"_id":"plain1","_rev":"2-199d6f4cb0ab51aafccacee16486d6b3","v":11,"_revisions":{"start":2,"ids":["199d6f4cb0ab51aafccacee16486d6b3","7a7e4b29f3af401e69b6f86e4c26b727"]}}}]},{"id":"small_att","docs":[{"ok":{"_id":"small_att","_rev":"1-b169928659d15c482e1fedd6b01100fa","_revisions":{"start":1,"ids":["b169928659d15c482e1fedd6b01100fa"]},"_attachments":{"note.txt":{"content_type":"text/plain","revpos":1,"digest":"md5-iMaiC8wqiFlD2NjLTemvCQ==","length":5,"stub":true}}}}]}]})JSON";

// CouchDB 3.4.3: the same for the deleted plain2.
inline constexpr const char* kCouchBulkGetDeleted = R"JSON({"results":[{"id":"plain2","docs":[{"ok":{"_id":"plain2","_rev":"2-742dc27a91278157c747752e62a8f805","_deleted":true,"_revisions":{"start":2,"ids":["742dc27a91278157c747752e62a8f805","b57d785aed6a5449083e87f91cb83590"]}}}]}]})JSON";

// CouchDB 3.4.3: GET /tsrc/small_att?revs=true&open_revs=[...]&latest=true, Accept: multipart/mixed: the
// JSON part of the multipart/related revision (the gzip bytes that follow it are not text).
inline constexpr const char* kCouchOpenRevsSmallAttJson = R"JSON({"_id":"small_att","_rev":"1-b169928659d15c482e1fedd6b01100fa","_revisions":{"start":1,"ids":["b169928659d15c482e1fedd6b01100fa"]},"_attachments":{"note.txt":{"content_type":"text/plain","revpos":1,"digest":"md5-iMaiC8wqiFlD2NjLTemvCQ==","length":5,"follows":true,"encoding":"gzip","encoded_length":25}}})JSON";

// pouchdb-server: GET /src/_changes?style=all_docs&since=0 (numeric sequences, `seq` after `changes`).
inline constexpr const char* kPouchChanges = R"JSON({"results":[{"id":"plain1","changes":[{"rev":"1-f185ffac436c04edfb7abfe093a197a3"}],"seq":1},{"id":"att","changes":[{"rev":"1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}],"seq":2}],"last_seq":2})JSON";

// pouchdb-server: POST /src/_revs_diff {"plain1":["1-f185ffac436c04edfb7abfe093a197a3","2-bbbb..."]}.
inline constexpr const char* kPouchRevsDiff = R"JSON({"plain1":{"missing":["2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]}})JSON";

// pouchdb-server: POST /src/_bulk_get?revs=true&latest=true&attachments=true for plain1 and att (a
// 5-byte attachment inline as base64, without `length`; special members in any order).
inline constexpr const char* kPouchBulkGet = R"JSON({"results":[{"id":"plain1","docs":[{"ok":{"v":1,"_id":"plain1","_rev":"1-f185ffac436c04edfb7abfe093a197a3","_revisions":{"start":1,"ids":["f185ffac436c04edfb7abfe093a197a3"]}}}]},{"id":"att","docs":[{"ok":{"_attachments":{"note.txt":{"content_type":"text/plain","digest":"md5-XUFAKrxLKna5cZ2REBfFkg==","revpos":1,"data":"aGVsbG8="}},"_id":"att","_rev":"1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","_revisions":{"start":1,"ids":["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}}}]}]})JSON";

// pouchdb-server: GET /src/att?revs=true&latest=true&attachments=true&open_revs=["1-aaaa..."] (a JSON
// array, whatever the Accept header: pouchdb-server has no multipart/mixed).
inline constexpr const char* kPouchOpenRevs = R"JSON([{"ok":{"_attachments":{"note.txt":{"content_type":"text/plain","digest":"md5-XUFAKrxLKna5cZ2REBfFkg==","revpos":1,"data":"aGVsbG8="}},"_id":"att","_rev":"1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","_revisions":{"start":1,"ids":["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}}}])JSON";

}  // namespace settee::test::wire
