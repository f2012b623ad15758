#include "name_matcher.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "normalizer.h"

namespace callguard {
namespace {

bool IsWordByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || static_cast<unsigned char>(c) >= 0x80;
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

const absl::flat_hash_set<std::string>& LegalSuffixes() {
  static const auto* s = new absl::flat_hash_set<std::string>{
      "llc", "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "lp", "llp", "pllc", "pc"};
  return *s;
}
// Words too common to identify an organization on their own.
const absl::flat_hash_set<std::string>& GenericOrgWords() {
  static const auto* s = new absl::flat_hash_set<std::string>{
      "the", "first", "national", "american", "united", "credit", "financial", "finance", "recovery", "account",
      "accounts", "services", "service", "solutions", "group", "capital", "collection", "collections", "bank",
      "debt", "management", "partners", "associates", "global", "premier", "central", "general", "consumer"};
  return *s;
}
const absl::flat_hash_set<std::string>& Honorifics() {
  static const auto* s = new absl::flat_hash_set<std::string>{"mr", "mrs", "ms", "miss", "dr", "jr", "sr"};
  return *s;
}
const char* const kCjkOrgSuffixes[] = {"股份有限公司", "有限责任公司", "有限公司", "公司", "集团"};
// Collectors name their firm by its brand: "鼎盛" for 上海鼎盛资产管理有限公司. The brand is
// what is left without the place and the line of business.
const char* const kCjkPlacePrefixes[] = {
    "北京", "上海", "天津", "重庆", "深圳", "广州", "杭州", "南京", "成都", "武汉", "西安", "苏州", "长沙",
    "郑州", "济南", "青岛", "合肥", "福州", "厦门", "宁波", "东莞", "佛山", "无锡", "昆明", "南昌", "沈阳",
    "大连", "哈尔滨", "长春", "石家庄", "太原", "南宁", "贵阳", "海口", "兰州", "银川", "西宁", "乌鲁木齐",
    "呼和浩特", "拉萨", "广东", "江苏", "浙江", "山东", "河南", "四川", "湖北", "湖南", "福建", "安徽",
    "河北", "江西", "辽宁", "吉林", "黑龙江", "山西", "陕西", "广西", "云南", "贵州", "海南", "甘肃"};
const char* const kCjkBusinessSuffixes[] = {
    "资产管理", "资管", "信息咨询", "商务咨询", "商务服务", "企业管理", "管理咨询", "咨询服务", "投资管理",
    "金融服务", "金融信息服务", "信息服务", "信息科技", "网络科技", "科技", "法律咨询", "外包服务",
    "征信服务", "征信", "催收服务", "信用管理", "资产", "咨询", "服务", "管理"};

std::vector<std::string> LatinWords(absl::string_view normalized) {
  std::vector<std::string> words;
  for (absl::string_view w : absl::StrSplit(normalized, ' ', absl::SkipEmpty())) {
    if (w == ",") continue;
    words.emplace_back(w);
  }
  return words;
}

std::string Join(const std::vector<std::string>& words, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < words.size(); ++i) {
    if (i > 0) out.push_back(' ');
    out += words[i];
  }
  return out;
}

// The first `n` code points of `s`.
std::string PrefixCodePoints(absl::string_view s, int n) {
  size_t pos = 0;
  for (int i = 0; i < n && pos < s.size(); ++i) DecodeUtf8(s, &pos);
  return std::string(s.substr(0, pos));
}
int CountCodePoints(absl::string_view s) { return CodePointOffset(s, s.size()); }

}  // namespace

NameMatcher NameMatcher::Create(absl::string_view name, Kind kind, bool cjk) {
  NameMatcher m;
  m.cjk_ = cjk;
  const Normalizer& norm = Normalizer::Default();
  std::string n = norm.NormalizeForMatch(name);
  absl::flat_hash_set<std::string> seen;
  auto add = [&](std::string v) {
    if (v.empty() || !seen.insert(v).second) return;
    m.variants_.push_back(std::move(v));
  };
  switch (kind) {
    case Kind::kWorkNumber: {
      std::string digits;
      for (char c : n) if (IsDigit(c)) digits.push_back(c);
      if (digits.size() >= 3) add(digits);
      m.digits_ = true;
      break;
    }
    case Kind::kPerson: {
      if (cjk) {
        std::string compact;
        for (char c : n) if (c != ' ') compact.push_back(c);
        add(compact);
        const int len = CountCodePoints(compact);
        if (len >= 3) add(std::string(compact.substr(PrefixCodePoints(compact, 1).size())));  // given name
        if (len >= 2) add("姓" + PrefixCodePoints(compact, 1));
      } else {
        for (const auto& w : LatinWords(n)) {
          if (w.size() < 2 || Honorifics().contains(w)) continue;
          m.tokens_.push_back(w);
          add(w);
        }
      }
      break;
    }
    case Kind::kOrganization: {
      if (cjk) {
        std::string compact;
        for (char c : n) if (c != ' ' && c != ',') compact.push_back(c);
        std::string core = compact;
        for (const char* suffix : kCjkOrgSuffixes) {
          if (absl::EndsWith(core, suffix) && core.size() > std::string(suffix).size()) {
            core.resize(core.size() - std::string(suffix).size());
            break;
          }
        }
        add(compact);
        add(core);
        if (CountCodePoints(core) > 4) add(PrefixCodePoints(core, 4));
        std::string brand = core;
        for (const char* place : kCjkPlacePrefixes) {
          if (absl::StartsWith(brand, place) && brand.size() > std::string(place).size()) {
            brand.erase(0, std::string(place).size());
            break;
          }
        }
        add(brand);  // the place dropped: "鼎盛资产管理"
        for (const char* business : kCjkBusinessSuffixes) {
          if (absl::EndsWith(brand, business) && CountCodePoints(brand) - CountCodePoints(business) >= 2) {
            brand.resize(brand.size() - std::string(business).size());
            break;
          }
        }
        if (CountCodePoints(brand) >= 2) add(brand);
      } else {
        std::vector<std::string> words = LatinWords(n);
        while (!words.empty() && LegalSuffixes().contains(words.back())) words.pop_back();
        add(Join(words, words.size()));
        if (words.size() >= 3) add(Join(words, 2));
        if (!words.empty() && words[0].size() >= 4 && !GenericOrgWords().contains(words[0])) add(words[0]);
      }
      break;
    }
  }
  // Longest first, so FindAll reports the fullest form.
  std::sort(m.variants_.begin(), m.variants_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return m;
}

namespace {

// Calls `found(begin, end)` for every occurrence of a variant that stands at word (or number)
// boundaries, variants longest first; stops early when `found` returns false.
template <typename Found>
void ForEachOccurrence(const std::vector<std::string>& variants, bool digits, bool cjk, absl::string_view text,
                       Found found) {
  for (const auto& v : variants) {
    size_t pos = 0;
    while ((pos = text.find(v, pos)) != absl::string_view::npos) {
      const size_t end = pos + v.size();
      bool ok = true;
      if (digits) {
        ok = (pos == 0 || !IsDigit(text[pos - 1])) && (end == text.size() || !IsDigit(text[end]));
      } else if (!cjk) {
        ok = (pos == 0 || !IsWordByte(text[pos - 1])) && (end == text.size() || !IsWordByte(text[end]));
      }
      if (ok && !found(pos, end)) return;
      pos = end;
    }
  }
}

}  // namespace

void NameMatcher::FindAll(absl::string_view text, std::vector<Span>* out) const {
  ForEachOccurrence(variants_, digits_, cjk_, text, [out](size_t pos, size_t end) {
    bool covered = false;
    for (const auto& s : *out) covered |= (pos >= s.first && end <= s.second);
    if (!covered) out->emplace_back(static_cast<uint32_t>(pos), static_cast<uint32_t>(end));
    return true;
  });
}

bool NameMatcher::Contains(absl::string_view text) const {
  // Whether FindAll() would find anything, without collecting it: the first occurrence is
  // never covered by an earlier one.
  bool any = false;
  ForEachOccurrence(variants_, digits_, cjk_, text, [&any](size_t, size_t) {
    any = true;
    return false;
  });
  return any;
}

bool NameMatcher::ContainsNameOrShortForm(absl::string_view text) const {
  if (Contains(text)) return true;
  if (cjk_ || digits_) return false;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (word.size() >= 4 && MatchesWord(word)) return true;
  }
  return false;
}

bool NameMatcher::MatchesWord(absl::string_view word) const {
  if (word.empty()) return false;
  if (cjk_) {
    for (const auto& v : variants_) {
      if (absl::StartsWith(word, v)) return true;
    }
    return false;
  }
  for (const auto& t : tokens_) {
    if (word == t) return true;
    // Short forms: "chris" for "christopher", "mike" is out of reach, "sam" for "samantha".
    if (word.size() >= 3 && absl::StartsWith(t, word)) return true;
  }
  return false;
}

}  // namespace callguard
