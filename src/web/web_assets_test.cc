#include "web/web_assets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace vitrina {
namespace {

TEST(WebAssetsTest, PagesAndTrackerAreCompiledIn) {
  for (std::string_view path : {"/dashboard/index.html", "/dashboard/app.js", "/dashboard/style.css",
                                "/demo/index.html", "/demo/app.js", "/demo/style.css", "/tracker/vitrina.js"}) {
    const WebAsset* asset = FindWebAsset(path);
    ASSERT_NE(asset, nullptr) << path;
    EXPECT_GT(asset->body.size(), 100u) << path;
    EXPECT_EQ(asset->etag.front(), '"');
  }
  EXPECT_EQ(FindWebAsset("/dashboard/missing.js"), nullptr);
  EXPECT_EQ(FindWebAsset("/dashboard"), nullptr);
}

TEST(WebAssetsTest, SortedForLookupAndTyped) {
  const auto assets = WebAssets();
  EXPECT_TRUE(std::is_sorted(assets.begin(), assets.end(),
                             [](const WebAsset& a, const WebAsset& b) { return a.path < b.path; }));
  EXPECT_EQ(FindWebAsset("/dashboard/index.html")->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(FindWebAsset("/demo/app.js")->content_type, "text/javascript; charset=utf-8");
  // The pages load their own scripts, never a CDN's.
  const std::string html(FindWebAsset("/dashboard/index.html")->body);
  EXPECT_NE(html.find("/dashboard/app.js"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  // The tracker bundle defines the global a plain <script> uses.
  EXPECT_NE(FindWebAsset("/tracker/vitrina.js")->body.find("Vitrina"), std::string_view::npos);
}

TEST(WebAssetsTest, EachFileHasAGzipCopyOfItself) {
  for (const WebAsset& asset : WebAssets()) {
    const std::string_view gz = asset.gzip_body;
    ASSERT_GT(gz.size(), 18u) << asset.path;
    EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f) << asset.path;  // gzip's magic
    EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b) << asset.path;
    // The trailer's last 4 bytes: the uncompressed size (little-endian).
    uint32_t size = 0;
    for (int i = 0; i < 4; ++i) size |= uint32_t(static_cast<unsigned char>(gz[gz.size() - 4 + i])) << (8 * i);
    EXPECT_EQ(size, asset.body.size()) << asset.path;
    EXPECT_NE(asset.gzip_etag, asset.etag);
  }
  // Scripts compress well: the point of sending them so.
  const WebAsset* app = FindWebAsset("/dashboard/app.js");
  EXPECT_LT(app->gzip_body.size() * 2, app->body.size());
}

}  // namespace
}  // namespace vitrina
