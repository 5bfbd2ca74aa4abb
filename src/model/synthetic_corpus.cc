#include "model/synthetic_corpus.h"

namespace swarmkv {
namespace {

// NOTE: written for this project; do not edit (see the header).
constexpr std::string_view kCorpus = R"SKVCORPUS(The morning fog rolled over the harbor while the fishing boats waited at the pier.
Nobody on the dock was in a hurry; the tide would turn when it turned, and the nets were already mended.
An old man sat on a coil of rope and told the children about the winter the river froze solid.
"We walked across to the other town," he said, "and the ice sang under our boots like a violin."
The children laughed, because they did not believe him, and because they wanted to believe him.

A library is a strange machine. You put in questions and, if you are patient, it gives back better questions.
The reading room was quiet except for the soft turning of pages and the hum of the radiators.
She found the book she was looking for on the lowest shelf, behind a row of atlases nobody had opened in years.
Its spine was cracked, its corners were soft, and someone had written notes in the margins in green ink.
The notes disagreed with the author on almost every page, politely but firmly, for three hundred pages.

When engineers talk about memory they mean several different things at once: the chips on the board,
the pages the operating system hands out, the caches between the processor and the rest of the world,
and the strange fact that a computation done once can be remembered instead of done again.
A cache is a promise that the past will be useful in the future. Sometimes the promise is kept.
Sharing a cache between many agents is like sharing a kitchen between many cooks: it works well
when everybody labels their jars, and it fails badly when two cooks think the same jar holds different spices.

The recipe was simple. Mix two cups of flour with a pinch of salt, add warm water slowly, and knead
for ten minutes until the dough is smooth. Let it rest under a damp cloth for an hour. Then shape it,
bake it at two hundred and twenty degrees for thirty minutes, and let it cool before you cut it.
Bread that is cut too early is gummy, and bread that is never cut is useless, so timing is everything.

Questions and answers:
Q: How many legs does a spider have? A: Eight.
Q: What is the capital of France? A: Paris.
Q: Why is the sky blue? A: Sunlight scatters off the molecules of the air, and blue light scatters the most.
Q: What is twelve times twelve? A: One hundred and forty-four, which is 144.
Q: Who wrote the letters in green ink? A: Nobody knows, but the library keeps the book anyway.

def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number, computed iteratively."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


class TokenCounter:
    def __init__(self):
        self.counts = {}

    def add(self, token: str) -> None:
        self.counts[token] = self.counts.get(token, 0) + 1

    def most_common(self, k: int = 10):
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


if __name__ == "__main__":
    counter = TokenCounter()
    for word in "the quick brown fox jumps over the lazy dog".split():
        counter.add(word)
    print(counter.most_common(3))

#include <cstdint>
#include <vector>

// Returns the index of the first element not less than `value` in a sorted vector.
template <typename T>
size_t LowerBound(const std::vector<T>& items, const T& value) {
  size_t lo = 0, hi = items.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (items[mid] < value) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

struct Block {
  uint64_t id = 0;
  int32_t refcount = 0;
  bool sealed = false;
};

function debounce(fn, delayMs) {
  let timer = null;
  return function (...args) {
    clearTimeout(timer);
    timer = setTimeout(() => fn.apply(this, args), delayMs);
  };
}

const config = { host: "127.0.0.1", port: 11434, retries: 3, timeoutMs: 5000 };
console.log(`listening on ${config.host}:${config.port}`);

SELECT name, COUNT(*) AS visits FROM requests WHERE status = 200 GROUP BY name ORDER BY visits DESC LIMIT 10;

$ ls -la /var/log | grep -i error
$ git commit -m "fix: handle an empty prompt without crashing"
{"model": "tiny", "messages": [{"role": "user", "content": "Hello!"}], "stream": true}

Der Zug nach München fährt um halb neun ab. Wir müssen uns beeilen, sonst verpassen wir ihn.
Les élèves ont préparé une pièce de théâtre pour la fête de l'école; tout le monde était ému.
El niño pequeño corrió por el jardín persiguiendo una mariposa amarilla. ¡Qué alegría!
Съешь же ещё этих мягких французских булок, да выпей чаю. Москва — столица России.
今日はいい天気ですね。散歩に行きましょう。東京の桜はとても綺麗です。
我们一起去图书馆看书吧。这个问题很有意思，但是答案并不简单。
오늘 날씨가 정말 좋네요. 같이 산책하러 갈까요?
Γεια σου κόσμε! Η θάλασσα είναι ήρεμη σήμερα.
Emoji also appear in chats: 😀 🎉 👍 🚀 ❤️ and sometimes ✨ sparkles ✨ around good news.
Math: ∑ᵢ xᵢ² ≥ 0, π ≈ 3.14159, e^{iπ} + 1 = 0, and ∞ is not a number.

The meeting started late because the projector would not talk to anyone's laptop.
After twenty minutes of cables and adapters, someone suggested they simply talk to each other,
and the meeting turned out to be the best one they had had all year. Decisions were made.
Action items were written on the whiteboard in three colors. Nobody photographed the whiteboard.
The next morning the cleaner wiped it, and the decisions lived on only in memory, which was enough.

Once upon a time there was a small robot who wanted to learn how to paint.
Every day it mixed colors on a tin plate and painted the same tree outside the window.
In spring the tree was green, in summer it was full of birds, in autumn it was red and gold,
and in winter it was a thin black line against the white sky. The robot painted all of them.
At the end of the year it hung the paintings in a row, and for the first time it understood time.

Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 16 32 64 128 256 512 1024 2048 4096 8192 32768 65536
Dates: 2024-01-15, 1999-12-31, 12:30:45, version 1.2.3, port 8080, 3.5% growth, $19.99, 42°C

The lighthouse keeper kept a logbook with one line for every night: the weather, the ships, the hours of oil.
Most lines were short. "Calm. Two trawlers, one ferry. Lamp trimmed at midnight." Some were longer.
On the night of the great storm he wrote four pages, in handwriting that grew larger as the wind grew louder,
describing waves that climbed the rocks, a freighter that turned back toward the open sea just in time,
and a gull that sheltered on his windowsill until dawn, glaring at him as if the storm were his fault.

Gardening teaches patience in a way that few other hobbies do. Seeds planted in March become tomatoes in August,
and nothing you do in between will make them hurry. You can water, weed, stake and prune, and you should,
but the plant keeps its own calendar. Beginners often overwater; experienced gardeners wait until the soil is dry
two fingers deep. Compost is the quiet hero: kitchen scraps, leaves and coffee grounds turn into dark crumbly earth.

The committee reviewed seventeen proposals and funded four. The rejected authors received polite letters
explaining that the decision reflected the limited budget rather than the quality of their ideas, which was
true for some of them. One proposal, about measuring the temperature of the deep ocean with old submarine cables,
was rejected, resubmitted the following year with better pictures, and funded with enthusiasm.

Travel notes. Tuesday: arrived late, the hotel had given our room away, slept in a room above the bakery,
woke up to the smell of bread at four in the morning. Wednesday: museum of clocks, which was closed for repairs,
which everyone agreed was funny. Thursday: rented bicycles, got lost, found a lake, swam, got found.
Friday: rain. Saturday: more rain, and a long lunch in a small restaurant where the owner played the accordion.

import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional


@dataclass
class Request:
    prompt: str
    max_tokens: int = 128
    temperature: float = 0.7
    stop: List[str] = field(default_factory=list)


def load_config(path: str) -> Dict[str, str]:
    config: Dict[str, str] = {}
    with open(path, "r", encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            config[key.strip()] = value.strip()
    return config


async def stream_tokens(client, request: Request):
    async for chunk in client.generate(request.prompt, max_tokens=request.max_tokens):
        yield chunk.text
        if any(s in chunk.text for s in request.stop):
            break

fn parse_header(bytes: &[u8]) -> Result<Header, ParseError> {
    if bytes.len() < 24 {
        return Err(ParseError::Truncated { needed: 24, available: bytes.len() });
    }
    let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    if magic != MAGIC {
        return Err(ParseError::BadMagic(magic));
    }
    Ok(Header { version: u32::from_le_bytes(bytes[4..8].try_into().unwrap()) })
}

package main

import (
	"fmt"
	"net/http"
	"time"
)

func handler(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	fmt.Fprintf(w, "hello from %s after %v\n", r.URL.Path, time.Since(start))
}

func main() {
	http.HandleFunc("/", handler)
	if err := http.ListenAndServe(":8080", nil); err != nil {
		panic(err)
	}
}

class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity) {}
  std::optional<std::string> Get(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void Put(const std::string& key, std::string value) {
    if (auto it = index_.find(key); it != index_.end()) order_.erase(it->second);
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }
 private:
  size_t capacity_;
  std::list<std::pair<std::string, std::string>> order_;
  std::unordered_map<std::string, decltype(order_)::iterator> index_;
};

<html>
  <head><title>Status</title></head>
  <body>
    <h1>All systems normal</h1>
    <p>Uptime: 42 days. Requests served: 1,234,567. Cache hit rate: 87.5%.</p>
  </body>
</html>

## Troubleshooting
- If the server does not start, check that the port is free: `ss -ltnp | grep 8080`.
- If responses are slow, look at the cache hit rate and the number of evictions per second.
- If the model fails to load, run the inspect command on the file and read the first error.

Die Katze schläft auf dem warmen Fensterbrett, während draußen der Schnee leise fällt.
Il était une fois un petit village au bord de la mer, où les maisons étaient peintes en bleu.
La biblioteca abre a las nueve y cierra a las ocho; los domingos está cerrada.
Кошка спит на подоконнике, а за окном идёт снег. Доброе утро, друзья!
春になると、公園には花見の人がたくさん集まります。
明天会下雨，记得带伞。我们下午三点在咖啡馆见面。
)SKVCORPUS";

}  // namespace

std::string_view SyntheticCorpus() { return kCorpus; }

}  // namespace swarmkv
