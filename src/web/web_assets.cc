#include "web/web_assets.h"

#include <algorithm>

namespace vitrina {

const WebAsset* FindWebAsset(std::string_view path) {
  const std::span<const WebAsset> assets = WebAssets();
  auto it = std::lower_bound(assets.begin(), assets.end(), path,
                             [](const WebAsset& asset, std::string_view p) { return asset.path < p; });
  return it != assets.end() && it->path == path ? &*it : nullptr;
}

}  // namespace vitrina
