// The real server, end to end: ingest, restart, kill -9, bad input, many
// connections.
#include <utility>  // before Asio under C++20 with Boost 1.74

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <list>
#include <mutex>
#include <set>
#include <thread>

#include "harness.h"

namespace vitrina::e2e {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  simdjson::dom::element Json(const HttpResult& result) { return json_.Parse(result); }
  uint64_t Stat(Server& server, const char* name) {
    HttpResult stats = server.Request("GET", "/v1/stats");
    EXPECT_EQ(stats.status, 200) << stats.body;
    return uint64_t(Json(stats)[name]);
  }

  JsonBodies json_;
};

TEST_F(ServerTest, IngestRestartFindsEverything) {
  TempDir dir("restart");
  Server server(dir.path() + "/data");
  ASSERT_TRUE(server.Start()) << server.log();
  EXPECT_EQ(server.Request("GET", "/health", "", "").status, 200);

  HttpResult items = server.Request("POST", "/v1/items", R"([
    {"id":"sku-1","title":"Red mug","category":["Home","Kitchen"],"brand":"Acme","price":4.5,"currency":"EUR",
     "stock":12,"attributes":{"color":"red","tags":["gift","ceramic"]}},
    {"id":"sku-2","title":"Blue mug","price":4.0},
    {"id":"sku-3","title":"Teapot","price":19.9,"active":false}])");
  ASSERT_EQ(items.status, 200) << items.body;
  EXPECT_EQ(uint64_t(Json(items)["created"]), 3u);
  ASSERT_EQ(server.Request("POST", "/v1/users", R"([{"id":"ann","consent":{"email":true,"sms":false},
      "attributes":{"tier":"gold"}},{"id":"bob"}])").status, 200);
  std::string batch = "[";
  for (int i = 0; i < 100; ++i) {
    batch += std::string(i ? "," : "") + R"({"event_id":"ev-)" + std::to_string(i) +
             R"(","type":"view","user_id":"ann","session_id":"s-1","item_id":"sku-)" + std::to_string(1 + i % 3) +
             R"(","timestamp":")" + "2024-05-01T1" + std::to_string(i / 60) + ":" + (i % 60 < 10 ? "0" : "") +
             std::to_string(i % 60) + R"(:00Z"})";
  }
  batch += "]";
  HttpResult events = server.Request("POST", "/v1/events", batch, kPublicKey);
  ASSERT_EQ(events.status, 200) << events.body;
  EXPECT_EQ(uint64_t(Json(events)["accepted"]), 100u);
  ASSERT_EQ(server.Request("POST", "/v1/events",
                           R"({"event_id":"buy-1","type":"purchase","user_id":"ann","timestamp":"2024-05-02T09:00:00Z",
                               "lines":[{"item_id":"sku-1","quantity":2,"price":4.5}],"currency":"EUR",
                               "context":{"device":"mobile","country":"DE"}})",
                           kPublicKey)
                .status,
            200);
  const std::string before_item = server.Request("GET", "/v1/items/sku-1").body;
  const std::string before_user = server.Request("GET", "/v1/users/ann").body;
  const std::string before_events = server.Request("GET", "/v1/users/ann/events?limit=5").body;
  const std::string before_stats = server.Request("GET", "/v1/stats").body;
  server.Stop();

  Server again(dir.path() + "/data");
  ASSERT_TRUE(again.Start()) << again.log();
  EXPECT_EQ(again.Request("GET", "/v1/items/sku-1").body, before_item);
  EXPECT_EQ(again.Request("GET", "/v1/users/ann").body, before_user);
  EXPECT_EQ(again.Request("GET", "/v1/users/ann/events?limit=5").body, before_events);
  auto stats = Json(again.Request("GET", "/v1/stats"));
  EXPECT_EQ(uint64_t(stats["items"]), 3u);
  EXPECT_EQ(uint64_t(stats["users"]), 2u);
  EXPECT_EQ(uint64_t(stats["events"]), 101u);
  EXPECT_EQ(uint64_t(stats["events_by_type"]["purchase"]), 1u);
  auto latest = Json(again.Request("GET", "/v1/users/ann/events?limit=1"))["events"].at(0);
  EXPECT_EQ(std::string_view(latest["event_id"]), "buy-1");
  EXPECT_EQ(double(latest["lines"].at(0)["quantity"]), 2.0);
  EXPECT_EQ(std::string_view(latest["context"]["country"]), "DE");
  // Idempotent after restart too.
  HttpResult resend = again.Request("POST", "/v1/events", batch, kPublicKey);
  EXPECT_EQ(uint64_t(Json(resend)["duplicates"]), 100u);
  EXPECT_EQ(Stat(again, "events"), 101u);
}

TEST_F(ServerTest, AcknowledgedEventsSurviveKill9) {
  TempDir dir("kill9");
  Server server(dir.path() + "/data");
  ASSERT_TRUE(server.Start()) << server.log();
  constexpr int kWriters = 6;
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::vector<std::set<std::string>> acked(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 900 && !stop; ++i) {
        std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
        HttpResult r = server.Request("POST", "/v1/events",
                                      R"({"event_id":")" + id + R"(","type":"click","user_id":"writer-)" +
                                          std::to_string(w) + R"(","item_id":"x"})",
                                      kPublicKey);
        if (r.status == 200) {
          std::lock_guard lock(mutex);
          acked[w].insert(id);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  server.Kill();  // mid-stream, no warning
  stop = true;
  for (auto& t : writers) t.join();

  Server again(dir.path() + "/data");
  ASSERT_TRUE(again.Start()) << again.log();
  size_t total_acked = 0;
  for (int w = 0; w < kWriters; ++w) {
    total_acked += acked[w].size();
    auto events = Json(again.Request("GET", "/v1/users/writer-" + std::to_string(w) + "/events?limit=1000"))["events"];
    std::set<std::string> stored;
    for (auto event : simdjson::dom::array(events)) stored.insert(std::string(std::string_view(event["event_id"])));
    for (const std::string& id : acked[w]) EXPECT_TRUE(stored.count(id)) << "acknowledged event " << id << " lost";
  }
  EXPECT_GT(total_acked, 50u) << "the test should have acknowledged a fair number of writes";
  EXPECT_GE(Stat(again, "events"), total_acked);
}

struct BadCase {
  const char* name;
  const char* method;
  std::string target;
  std::string body;
  std::string key;
  int status;
  const char* code;
  const char* field;  // nullptr: not checked
  int index;          // -1: not checked
};

TEST_F(ServerTest, EveryBadInputGetsAPreciseError) {
  TempDir dir("bad");
  Server server(dir.path() + "/data", {"--ingest.max_batch_records", "50", "--server.max_body_bytes", "65536"});
  ASSERT_TRUE(server.Start()) << server.log();
  const std::string admin = kAdminKey, pub = kPublicKey;
  std::string too_many = "[";
  for (int i = 0; i < 51; ++i) too_many += std::string(i ? "," : "") + R"({"type":"view","user_id":"u","item_id":"a"})";
  too_many += "]";
  const std::vector<BadCase> cases = {
      {"malformed JSON", "POST", "/v1/events", "[{\"type\":\"view\",\"user_id\":\"u\",\"item_id\":\"a\"},{\"type\":}]",
       pub, 400, "invalid_json", nullptr, 1},
      {"wrong type", "POST", "/v1/events", R"({"type":"view","user_id":"u","item_id":42.5})", pub, 400, "wrong_type",
       "item_id", 0},
      {"unknown event type", "POST", "/v1/events", R"({"type":"like","user_id":"u","item_id":"a"})", pub, 400,
       "unknown_event_type", "type", 0},
      {"negative quantity", "POST", "/v1/events",
       R"({"type":"purchase","user_id":"u","lines":[{"item_id":"a","quantity":-3,"price":2}]})", pub, 400,
       "out_of_range", "lines[0].quantity", 0},
      {"negative price", "POST", "/v1/events", R"({"type":"add_to_cart","user_id":"u","item_id":"a","price":-1})", pub,
       400, "out_of_range", "lines[0].price", 0},
      {"future timestamp", "POST", "/v1/events",
       R"({"type":"view","user_id":"u","item_id":"a","timestamp":"2999-01-01T00:00:00Z"})", pub, 400,
       "future_timestamp", "timestamp", 0},
      {"milliseconds timestamp", "POST", "/v1/events",
       R"({"type":"view","user_id":"u","item_id":"a","timestamp":1714557600000})", pub, 400, "future_timestamp",
       "timestamp", 0},
      {"unknown field", "POST", "/v1/events", R"({"type":"view","user_id":"u","itemid":"a"})", pub, 400,
       "unknown_field", "itemid", 0},
      {"no user or session", "POST", "/v1/events", R"({"type":"view","item_id":"a"})", pub, 400, "missing_field",
       "user_id", 0},
      {"id too long", "POST", "/v1/events",
       R"({"type":"view","user_id":"u","item_id":")" + std::string(300, 'x') + R"("})", pub, 400, "too_long",
       "item_id", 0},
      {"reserved event id", "POST", "/v1/events", R"({"event_id":"~1","type":"view","user_id":"u","item_id":"a"})",
       pub, 400, "invalid_value", "event_id", 0},
      {"item with negative stock", "POST", "/v1/items", R"({"id":"a","stock":-1})", admin, 400, "out_of_range",
       "stock", 0},
      {"item with bad currency", "POST", "/v1/items", R"({"id":"a","currency":"euro"})", admin, 400,
       "invalid_value", "currency", 0},
      {"user with bad consent", "POST", "/v1/users", R"({"id":"u","consent":{"email":"yes"}})", admin, 400,
       "wrong_type", "consent.email", 0},
      {"not an object", "POST", "/v1/events", R"("view")", pub, 400, "invalid_body", nullptr, -1},
      {"batch too large", "POST", "/v1/events", too_many, pub, 413, "batch_too_large", "events", -1},
      {"body too large", "POST", "/v1/events", "[" + std::string(70000, ' ') + "]", pub, 413, "body_too_large",
       nullptr, -1},
      {"no key", "POST", "/v1/events", R"({"type":"view","user_id":"u","item_id":"a"})", "", 401, "unauthorized",
       nullptr, -1},
      {"wrong key", "GET", "/v1/stats", "", "not-the-key-at-all", 401, "unauthorized", nullptr, -1},
      {"public key on an admin route", "POST", "/v1/items", R"({"id":"a"})", pub, 403, "forbidden", nullptr, -1},
      {"unknown route", "GET", "/v1/nope", "", admin, 404, "not_found", nullptr, -1},
      {"unknown item", "GET", "/v1/items/none", "", admin, 404, "not_found", "id", -1},
      {"control character in a path id", "GET", "/v1/users/ann%00x/events", "", admin, 400, "invalid_parameter",
       "id", -1},
      {"malformed path escape", "GET", "/v1/items/a%zz", "", admin, 400, "bad_request", nullptr, -1},
      {"malformed query escape", "GET", "/v1/users/u/events?limit=%zz", "", admin, 400, "bad_request", nullptr, -1},
      {"time without a zone", "POST", "/v1/events",
       R"({"type":"view","user_id":"u","item_id":"a","timestamp":"2024-05-01T10:00:00"})", pub, 400,
       "invalid_timestamp", "timestamp", 0},
      {"number out of range", "POST", "/v1/events",
       R"([{"type":"view","user_id":"u","item_id":"a"},{"type":"rating","user_id":"u","item_id":"a","value":1e999}])",
       pub, 400, "invalid_json", nullptr, 1},
      {"wrong method", "PUT", "/v1/events", "{}", admin, 405, "method_not_allowed", nullptr, -1},
      {"bad limit", "GET", "/v1/users/u/events?limit=abc", "", admin, 400, "invalid_parameter", "limit", -1},
  };
  for (const BadCase& c : cases) {
    HttpResult result = server.Request(c.method, c.target, c.body, c.key);
    EXPECT_EQ(result.status, c.status) << c.name << ": " << result.body;
    auto error = Json(result)["error"];
    ASSERT_FALSE(error.error()) << c.name << ": no error object in " << result.body;
    EXPECT_EQ(std::string_view(error["code"]), c.code) << c.name;
    EXPECT_FALSE(std::string_view(error["message"]).empty()) << c.name;
    if (c.field != nullptr) {
      EXPECT_EQ(std::string_view(error["field"]), c.field) << c.name << ": " << result.body;
    }
    if (c.index >= 0) {
      EXPECT_EQ(int64_t(error["index"]), c.index) << c.name << ": " << result.body;
    }
  }
  HttpResult media = server.Request("POST", "/v1/events", "<event/>", pub, {{"Content-Type", "application/xml"}});
  EXPECT_EQ(media.status, 415);
  EXPECT_EQ(std::string_view(Json(media)["error"]["code"]), "unsupported_media_type");
  // None of the above stored anything.
  EXPECT_EQ(Stat(server, "events"), 0u);
  EXPECT_EQ(Stat(server, "items"), 0u);

  // A mixed batch keeps the good records and names each bad one.
  HttpResult mixed = server.Request("POST", "/v1/events", R"([
      {"event_id":"ok-1","type":"view","user_id":"u","item_id":"a"},
      {"event_id":"bad-1","type":"view","user_id":"u","item_id":"a","timestamp":"2999-01-01T00:00:00Z"},
      {"event_id":"ok-2","type":"search","session_id":"s","query":"mug"},
      {"event_id":"ok-1","type":"view","user_id":"u","item_id":"a"}])", pub);
  EXPECT_EQ(mixed.status, 207) << mixed.body;
  auto json = Json(mixed);
  EXPECT_EQ(uint64_t(json["accepted"]), 2u);
  EXPECT_EQ(uint64_t(json["duplicates"]), 1u);
  EXPECT_EQ(uint64_t(json["errors"].at(0)["index"]), 1u);
  EXPECT_EQ(uint64_t(json["duplicate_indices"].at(0)), 3u);
  EXPECT_EQ(Stat(server, "events"), 2u);
}

TEST_F(ServerTest, HoldsHundredsOfKeepAliveConnections) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace net = boost::asio;
  TempDir dir("conns");
  // All from 127.0.0.1, as behind a reverse proxy: no cap per client address.
  Server server(dir.path() + "/data", {"--server.max_connections_per_client", "0"});
  ASSERT_TRUE(server.Start()) << server.log();
  constexpr int kConnections = 300;
  net::io_context io;
  std::vector<std::unique_ptr<beast::tcp_stream>> streams;
  for (int c = 0; c < kConnections; ++c) {
    streams.push_back(std::make_unique<beast::tcp_stream>(io));
    streams.back()->connect(
        net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port())));
  }
  // Every connection stays open across rounds: the server holds all 300 at once.
  for (int round = 0; round < 3; ++round) {
    for (int c = 0; c < kConnections; ++c) {
      http::request<http::string_body> request(http::verb::post, "/v1/events", 11);
      request.set(http::field::host, "127.0.0.1");
      request.set(http::field::authorization, std::string("Bearer ") + kPublicKey);
      request.body() = R"({"event_id":"c)" + std::to_string(c) + "-" + std::to_string(round) +
                       R"(","type":"view","session_id":"conn-)" + std::to_string(c) + R"(","item_id":"a"})";
      request.prepare_payload();
      http::write(*streams[c], request);
    }
    for (int c = 0; c < kConnections; ++c) {
      beast::flat_buffer buffer;
      http::response<http::string_body> response;
      http::read(*streams[c], buffer, response);
      ASSERT_EQ(response.result_int(), 200) << response.body();
      ASSERT_TRUE(response.keep_alive());
    }
  }
  EXPECT_EQ(Stat(server, "events"), 3u * kConnections);
}

TEST_F(ServerTest, ExpectContinueIsAnswered) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace net = boost::asio;
  TempDir dir("continue");
  Server server(dir.path() + "/data");
  ASSERT_TRUE(server.Start()) << server.log();
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port())));
  http::request<http::string_body> request(http::verb::post, "/v1/events", 11);
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::authorization, std::string("Bearer ") + kPublicKey);
  request.set(http::field::expect, "100-continue");
  request.body() = R"({"type":"view","user_id":"u","item_id":"a"})";
  request.prepare_payload();
  http::request_serializer<http::string_body> serializer(request);
  http::write_header(stream, serializer);
  beast::flat_buffer buffer;
  http::response<http::empty_body> interim;
  http::read(stream, buffer, interim);
  EXPECT_EQ(interim.result(), http::status::continue_);
  http::write(stream, serializer);
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  EXPECT_EQ(response.result_int(), 200) << response.body();
}

TEST_F(ServerTest, HttpEdgeCases) {
  TempDir dir("http_edges");
  Server server(dir.path() + "/data");
  ASSERT_TRUE(server.Start()) << server.log();
  // Keep-alive framing survives HEAD and errors on one connection.
  std::string out = server.RawExchange(
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /v1/users/u/events?limit=%zz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v1/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  // Two bodies: GET /health without a key ({"status":"ok"}) and the 404 ({"error":{...}}).
  EXPECT_EQ(std::count(out.begin(), out.end(), '{'), 1 + 2) << out;
  size_t first = out.find("HTTP/1.1 200");
  size_t head = out.find("HTTP/1.1 200", first + 1);
  size_t bad = out.find("HTTP/1.1 400", head);
  size_t missing = out.find("HTTP/1.1 404", bad);
  EXPECT_TRUE(first != std::string::npos && head != std::string::npos && bad != std::string::npos &&
              missing != std::string::npos)
      << out;
  EXPECT_EQ(out.substr(head, bad - head).find('{'), std::string::npos) << "HEAD answers carry no body";

  EXPECT_NE(server.RawExchange("GARBAGE\r\n\r\n").find("HTTP/1.1 400"), std::string::npos);
  EXPECT_NE(server.RawExchange("GET /health HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n")
                .find("431"),
            std::string::npos);
  // HTTP/1.0 without keep-alive: answered in 1.0, then closed (RawExchange returns on close).
  std::string old = server.RawExchange("GET /health HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.rfind("HTTP/1.0 200", 0), 0u) << old;
}

TEST_F(ServerTest, BrowserCallsWithCorsAndBeacons) {
  TempDir dir("browser");
  Server server(dir.path() + "/data", {"--server.cors_origins", "https://shop.example"});
  ASSERT_TRUE(server.Start()) << server.log();
  HttpResult preflight = server.Request("OPTIONS", "/v1/events", "", "",
                                        {{"Origin", "https://shop.example"},
                                         {"Access-Control-Request-Method", "POST"},
                                         {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.headers["access-control-allow-origin"], "https://shop.example");
  EXPECT_EQ(preflight.headers["access-control-allow-methods"], "POST");
  // navigator.sendBeacon: text/plain, no Authorization header, key in the URL.
  HttpResult beacon = server.Request("POST", std::string("/v1/events?key=") + kPublicKey,
                                     R"({"type":"view","session_id":"beacon-1","item_id":"a"})", "",
                                     {{"Content-Type", "text/plain;charset=UTF-8"}, {"Origin", "https://shop.example"}});
  EXPECT_EQ(beacon.status, 200) << beacon.body;
  EXPECT_EQ(beacon.headers["access-control-allow-origin"], "https://shop.example");
  HttpResult other = server.Request("POST", "/v1/events", R"({"type":"view","session_id":"x","item_id":"a"})",
                                    kPublicKey, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(other.headers.count("access-control-allow-origin"), 0u);
  EXPECT_EQ(server.Request("GET", std::string("/v1/stats?key=") + kAdminKey, "", "").status, 401);
}

TEST_F(ServerTest, SigtermAnswersQueuedWritesAndExitsCleanly) {
  TempDir dir("sigterm");
  Server server(dir.path() + "/data");
  ASSERT_TRUE(server.Start()) << server.log();
  std::mutex mutex;
  std::set<std::string> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop && i < 19; ++i) {  // at most 950 events per user: one timeline read sees all
        std::string body = "[";
        for (int k = 0; k < 50; ++k) {
          body += std::string(k ? "," : "") + R"({"event_id":"t)" + std::to_string(w) + "-" + std::to_string(i) + "-" +
                  std::to_string(k) + R"(","type":"view","user_id":"sig-)" + std::to_string(w) +
                  R"(","item_id":"a"})";
        }
        body += "]";
        HttpResult r = server.Request("POST", "/v1/events", body, kPublicKey);
        if (r.status == 200) {
          std::lock_guard lock(mutex);
          for (int k = 0; k < 50; ++k) {
            acked.insert("t" + std::to_string(w) + "-" + std::to_string(i) + "-" + std::to_string(k));
          }
        } else if (r.status == -1) {
          break;  // the server has gone
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const int exit_code = server.Stop();
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_EQ(exit_code, 0) << server.log();
  EXPECT_NE(server.log().find("stopped"), std::string::npos) << server.log();

  Server again(dir.path() + "/data");
  ASSERT_TRUE(again.Start()) << again.log();
  EXPECT_GE(Stat(again, "events"), acked.size());
  size_t found = 0;
  for (int w = 0; w < 4; ++w) {
    auto events = Json(again.Request("GET", "/v1/users/sig-" + std::to_string(w) + "/events?limit=1000"))["events"];
    for (auto event : simdjson::dom::array(events)) found += acked.count(std::string(std::string_view(event["event_id"])));
  }
  EXPECT_GT(acked.size(), 0u);
  EXPECT_EQ(found, acked.size()) << "every acknowledged event must survive a SIGTERM";
}

TEST_F(ServerTest, RefusesToStartWithoutAnAdminKey) {
  TempDir dir("nokey");
  CommandResult result = RunVitrina({"serve", "--data", dir.path() + "/data", "--port", "0"});
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("auth.admin_key is not set"), std::string::npos) << result.out;

  result = RunVitrina({"serve", "--data", dir.path() + "/data"}, {{"VITRINA_ADMIN_KEY", kAdminKey},
                                                                 {"VITRINA_SERVER_PORT", "99999"}});
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("server.port (env VITRINA_SERVER_PORT): must be between 0 and 65535"), std::string::npos)
      << result.out;
}

}  // namespace
}  // namespace vitrina::e2e
