#include "api/router.h"

#include <gtest/gtest.h>

namespace vitrina {
namespace {

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto echo = [](std::string name) {
      return [name](RouteRequest& request, Responder respond) {
        HttpResponse response;
        response.body = name;
        for (const auto& p : request.params) response.body += "|" + p;
        response.body += "|" + std::string(ScopeName(request.caller));
        respond(response);
      };
    };
    router_.Add(HttpMethod::kGet, "/health", Scope::kOpen, "", echo("health"));
    router_.Add(HttpMethod::kGet, "/v1/items/{id}", Scope::kAdmin, "", echo("get"));
    router_.Add(HttpMethod::kDelete, "/v1/items/{id}", Scope::kAdmin, "", echo("delete"));
    router_.Add(HttpMethod::kPost, "/v1/events", Scope::kPublic, "", echo("events"));
  }

  HttpResponse Call(HttpMethod method, std::string target, std::string key = "", std::string origin = "") {
    HttpRequest request;
    request.method = method;
    EXPECT_TRUE(ParseTarget(target, &request.path, &request.query));
    request.origin = std::move(origin);
    if (!key.empty()) request.authorization = "Bearer " + key;
    HttpResponse result;
    router_.Dispatch(std::move(request), [&](HttpResponse response) { result = std::move(response); });
    return result;
  }

  Router router_{AuthKeys{"admin-key-0123456789", "public-key-0123456789"}};
};

TEST_F(RouterTest, MatchesPathsAndDecodesParameters) {
  EXPECT_EQ(Call(HttpMethod::kGet, "/health").body, "health|open");
  EXPECT_EQ(Call(HttpMethod::kGet, "/v1/items/a%2Fb%20c", "admin-key-0123456789").body, "get|a/b c|admin");
  EXPECT_EQ(Call(HttpMethod::kDelete, "/v1/items/x/", "admin-key-0123456789").body, "delete|x|admin");
  EXPECT_EQ(Call(HttpMethod::kHead, "/health").status, 200);
}

TEST_F(RouterTest, UnknownPathsAndMethods) {
  HttpResponse missing = Call(HttpMethod::kGet, "/v1/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("\"code\":\"not_found\""), std::string::npos);
  HttpResponse wrong = Call(HttpMethod::kPut, "/v1/items/x", "admin-key-0123456789");
  EXPECT_EQ(wrong.status, 405);
  ASSERT_EQ(wrong.headers.size(), 1u);
  EXPECT_EQ(wrong.headers[0], (std::pair<std::string, std::string>{"Allow", "GET, HEAD, DELETE"}));
  HttpResponse escape = Call(HttpMethod::kGet, "/v1/items/bad%zz", "admin-key-0123456789");
  EXPECT_EQ(escape.status, 400);
  EXPECT_NE(escape.body.find("malformed %-escape"), std::string::npos);
}

TEST_F(RouterTest, KeysAndScopes) {
  HttpResponse none = Call(HttpMethod::kPost, "/v1/events");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("Authorization: Bearer"), std::string::npos);
  EXPECT_EQ(Call(HttpMethod::kPost, "/v1/events", "wrong").status, 401);
  EXPECT_EQ(Call(HttpMethod::kPost, "/v1/events", "public-key-0123456789").body, "events|public");
  EXPECT_EQ(Call(HttpMethod::kPost, "/v1/events", "admin-key-0123456789").body, "events|admin");
  HttpResponse forbidden = Call(HttpMethod::kGet, "/v1/items/x", "public-key-0123456789");
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_NE(forbidden.body.find("\"code\":\"forbidden\""), std::string::npos);
  // Prefixes of a key are not the key.
  EXPECT_EQ(Call(HttpMethod::kGet, "/v1/items/x", "admin-key-012345678").status, 401);
}

std::string Header(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

TEST_F(RouterTest, KeyInTheQueryOnlyForPublicRoutesAndNeverTheAdminKey) {
  EXPECT_EQ(Call(HttpMethod::kPost, "/v1/events?key=public-key-0123456789").body, "events|public");
  HttpResponse admin_in_url = Call(HttpMethod::kPost, "/v1/events?key=admin-key-0123456789");
  EXPECT_EQ(admin_in_url.status, 401);
  EXPECT_NE(admin_in_url.body.find("must not be sent in a URL"), std::string::npos);
  EXPECT_EQ(Call(HttpMethod::kGet, "/v1/items/x?key=public-key-0123456789").status, 401);
  EXPECT_EQ(Call(HttpMethod::kPost, "/v1/events?key=nope").status, 401);
}

TEST_F(RouterTest, CorsPreflightAndHeaders) {
  HttpResponse preflight = Call(HttpMethod::kOptions, "/v1/events", "", "https://shop.example");
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(Header(preflight, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(Header(preflight, "Access-Control-Allow-Methods"), "POST");
  EXPECT_NE(Header(preflight, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  HttpResponse post = Call(HttpMethod::kPost, "/v1/events", "public-key-0123456789", "https://shop.example");
  EXPECT_EQ(Header(post, "Access-Control-Allow-Origin"), "*");
  HttpResponse denied = Call(HttpMethod::kPost, "/v1/events", "", "https://shop.example");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(Header(denied, "Access-Control-Allow-Origin"), "*");  // so the page can read the error
  EXPECT_EQ(Header(Call(HttpMethod::kPost, "/v1/events", "public-key-0123456789"), "Access-Control-Allow-Origin"), "");

  Router strict(AuthKeys{"admin-key-0123456789", ""}, CorsOptions{{"https://shop.example"}});
  strict.Add(HttpMethod::kGet, "/health", Scope::kOpen, "", [](RouteRequest&, Responder respond) { respond({}); });
  auto call = [&](const std::string& origin) {
    HttpRequest request;
    request.path = "/health";
    request.origin = origin;
    HttpResponse result;
    strict.Dispatch(std::move(request), [&](HttpResponse response) { result = std::move(response); });
    return result;
  };
  EXPECT_EQ(Header(call("https://shop.example"), "Access-Control-Allow-Origin"), "https://shop.example");
  EXPECT_EQ(Header(call("https://shop.example"), "Vary"), "Origin");
  EXPECT_EQ(Header(call("https://evil.example"), "Access-Control-Allow-Origin"), "");
}

TEST_F(RouterTest, PrecheckRefusesBeforeTheBody) {
  HttpRequest request;
  request.method = HttpMethod::kDelete;
  request.path = "/v1/items/x";
  EXPECT_EQ(router_.Precheck(request)->status, 401);
  request.authorization = "Bearer public-key-0123456789";
  EXPECT_EQ(router_.Precheck(request)->status, 403);
  request.authorization = "Bearer admin-key-0123456789";
  EXPECT_FALSE(router_.Precheck(request).has_value());
  request.path = "/v1/nothing";
  EXPECT_EQ(router_.Precheck(request)->status, 404);
}

TEST(HttpTest, ParseTargetDecodesQuery) {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  ASSERT_TRUE(ParseTarget("/v1/users/u1/events?limit=5&q=red+mug%21&flag", &path, &query));
  EXPECT_EQ(path, "/v1/users/u1/events");
  ASSERT_EQ(query.size(), 3u);
  EXPECT_EQ(query[1], (std::pair<std::string, std::string>{"q", "red mug!"}));
  EXPECT_EQ(query[2].first, "flag");
  EXPECT_FALSE(ParseTarget("/x?a=%G1", &path, &query));
}

TEST(HttpTest, ErrorResponseShape) {
  HttpResponse response = ErrorResponse(400, "out_of_range", "quantity must be > 0", "lines[0].quantity", 3);
  EXPECT_EQ(response.body,
            R"({"error":{"code":"out_of_range","message":"quantity must be > 0","field":"lines[0].quantity","index":3}})");
  EXPECT_EQ(ErrorResponse(404, "not_found", "x").body,
            R"({"error":{"code":"not_found","message":"x","field":null,"index":null}})");
}

}  // namespace
}  // namespace vitrina
