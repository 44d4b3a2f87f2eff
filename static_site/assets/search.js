// The search page: searches every bundle of the site's Pagefind index as if it were one index.
//
// Pagefind's search skips a query word that an index lacks. Searching each bundle with the whole
// query would answer 鸿达食品, in a bundle without 鸿达, with every page there that says 食品.
// So each word is first looked up alone in every bundle, and a bundle that would not match it as
// one index holding every page would is left out; a word no bundle has is skipped everywhere, as
// one index would skip it (see `holding`).
// The bundles are merged into one Pagefind instance (one worker, one copy of its WebAssembly),
// each tagged with a filter of its own name, so one lookup per word counts its pages per bundle.

const BUNDLE = "bundle"; // the filter that names each page's bundle (never shown)
const LANGUAGE = "zh-CN";
const PAGE_SIZE = 10;
export const FILTERS = ["类型", "部门", "名单", "年份"]; // as the record pages declare them

let loading = null;

function siteRoot() {
  const holder = document.querySelector("[data-root]");
  return new URL(holder ? holder.dataset.root : "/", window.location.href);
}

// Every bundle merged into one Pagefind instance; null when the site has no search index.
export function load() {
  if (loading === null) {
    loading = (async () => {
      const root = siteRoot();
      const folded = loadFolding();
      const response = await fetch(new URL("search/pagefind/bundles.json", root));
      if (!response.ok) {
        throw new Error(`search index list: HTTP ${response.status}`);
      }
      const bundles = (await response.json()).bundles;
      await folded;
      if (bundles.length === 0) {
        return null;
      }
      const path = (bundle) => new URL(`search/pagefind/${bundle.name}/`, root).pathname;
      const first = bundles[0];
      const module = await import(`${path(first)}pagefind.js`);
      const pagefind = module.createInstance({
        basePath: path(first),
        baseUrl: root.pathname,
        metaCacheTag: first.tag,
        mergeFilter: { [BUNDLE]: first.name },
      });
      await pagefind.init();
      await Promise.all(
        bundles.slice(1).map((bundle) =>
          pagefind.mergeIndex(path(bundle), {
            baseUrl: root.pathname,
            metaCacheTag: bundle.tag,
            mergeFilter: { [BUNDLE]: bundle.name },
          }),
        ),
      );
      return { pagefind, names: bundles.map((bundle) => bundle.name) };
    })();
    loading.catch(() => {
      loading = null; // let the next search try again
    });
  }
  return loading;
}

// The query as the index has its pages (publishers/search.py and disclosure/bigrams.py, which
// a test holds equal to this): normalized (full-width to half-width, lower case), each run of
// ideographs cut into bigrams stepping by two (plus the last pair), each spelt as the word the
// pages hold for it; Latin and digit runs (credit codes, numbers) stay as they are.
const RUNS = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z]+/gu;
const TERM_MARK = "qz";
const MARK_ONLY = /^q(z[a-p]*)?$/; // a Latin word every spelt bigram would begin with
const LETTERS = "abcdefghijklmnop";

let folding = new Map(); // traditional → simplified ideographs (assets/search-folding.json)

// Read the folding table the site publishes (`load` does; a test may call it alone).
export async function loadFolding() {
  const response = await fetch(new URL("assets/search-folding.json", siteRoot()));
  if (!response.ok) {
    throw new Error(`search folding table: HTTP ${response.status}`);
  }
  const pairs = Array.from((await response.json()).pairs);
  const table = new Map();
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    table.set(pairs[i], pairs[i + 1]);
  }
  folding = table;
}

function normalize(text) {
  // character for character, as the Python side: a character folding into several stays
  return Array.from(text, (c) => {
    const folded = c.normalize("NFKC");
    const one = Array.from(folded).length === 1 ? folded : c;
    return folding.get(one) || one;
  })
    .join("")
    .toLowerCase();
}

function spelt(gram) {
  let word = TERM_MARK;
  for (const c of gram) {
    const code = c.codePointAt(0);
    for (const shift of [12, 8, 4, 0]) {
      word += LETTERS[(code >> shift) & 15];
    }
  }
  return word;
}

function grams(run) {
  const characters = Array.from(run);
  if (characters.length < 3) {
    return [run];
  }
  const found = [];
  const last = characters.length - 2;
  for (let offset = 0; offset <= last; offset += 2) {
    found.push(characters.slice(offset, offset + 2).join(""));
  }
  if (last % 2) {
    found.push(characters.slice(last).join(""));
  }
  return found;
}

// The runs of the query, normalized: [text, is it of ideographs].
function runs(query) {
  return Array.from(normalize(query).matchAll(RUNS), (match) => [
    match[0],
    match[0] > "\u3000",
  ]);
}

// The words Pagefind searches for, each once.
export function words(query) {
  const found = [];
  for (const [run, ideographs] of runs(query)) {
    if (ideographs) {
      found.push(...grams(run).map(spelt));
    } else if (!MARK_ONLY.test(run)) {
      found.push(run);
    }
  }
  return [...new Set(found)];
}

function withoutBundle(counts) {
  const shown = {};
  for (const key of Object.keys(counts || {})) {
    if (key !== BUNDLE) {
      shown[key] = counts[key];
    }
  }
  return shown;
}

// The filters and how many pages each value has, summed over the bundles.
export async function filters() {
  const index = await load();
  return index === null ? {} : withoutBundle(await index.pagefind.filters());
}

const NOTHING = { results: [], filters: {} };
const COUNT_ONLY = { filters: { [BUNDLE]: "" } }; // no page is in bundle "": counts, no results
const CHECKED = 100; // at most this many pages: read the word matched on one of them

function normal(word) {
  // a word as Pagefind compares it: lowercase, diacritics dropped
  return word
    .replace(/[\p{P}\s]/gu, "")
    .toLocaleLowerCase()
    .normalize("NFD")
    .replace(/\p{M}/gu, "");
}

// How many pages of each bundle match `term` (a quoted term: the indexed word itself only).
async function counts(pagefind, term) {
  return (await pagefind.search(term, COUNT_ONLY)).totalFilters[BUNDLE] || {};
}

// The word of bundle `name`'s index that Pagefind matches for `term`, read on a page it finds.
async function matchedWord(pagefind, term, name) {
  const found = await pagefind.search(term, { filters: { [BUNDLE]: name } });
  const result = found.results.find((each) => each.words.length > 0);
  if (!result) {
    return normal(term);
  }
  const data = await result.data();
  return normal(data.raw_content.split("\u200B")[result.words[0]] || term);
}

// The bundles holding `term` as one index holding every page would match it. Pagefind matches
// the indexed words starting with a query word or, when an index has none, the longest indexed
// word the query word starts with (a credit code absent from a bundle matches 914 there). So:
// the bundles with words starting with `term` if any bundle has one; otherwise those with the
// longest word `term` starts with. Null when no bundle has either: Pagefind skips the word.
async function holding(pagefind, term) {
  const key = normal(term);
  const characters = Array.from(key);
  const prefixes = characters.slice(1).map((_, i) => characters.slice(0, i + 1).join(""));
  const [hits, exact] = await Promise.all([counts(pagefind, term), counts(pagefind, `"${term}"`)]);
  const found = Object.keys(hits).filter((name) => hits[name] > 0);
  const unsure = found.filter((name) => !(exact[name] > 0));
  const shorterCounts =
    unsure.length > 0 ? await Promise.all(prefixes.map((p) => counts(pagefind, `"${p}"`))) : [];
  const extended = new Set();
  const shorter = new Map(); // bundle → the shorter word it matches instead
  await Promise.all(
    found.map(async (name) => {
      let i = shorterCounts.length - 1;
      while (i >= 0 && !(shorterCounts[i][name] > 0)) {
        i -= 1;
      }
      // A bundle matching only a shorter word finds exactly the pages having that word; the
      // pages checked when few, so that a coincidence of counts cannot mislead
      if (exact[name] > 0 || i < 0 || shorterCounts[i][name] !== hits[name]) {
        extended.add(name);
      } else if (hits[name] > CHECKED) {
        shorter.set(name, prefixes[i]);
      } else {
        const word = await matchedWord(pagefind, term, name);
        if (word.startsWith(key) || !key.startsWith(word)) {
          extended.add(name);
        } else {
          shorter.set(name, word);
        }
      }
    }),
  );
  if (extended.size > 0) {
    return extended;
  }
  if (shorter.size === 0) {
    return null;
  }
  const longest = Math.max(...Array.from(shorter.values(), (word) => word.length));
  return new Set(Array.from(shorter.keys()).filter((name) => shorter.get(name).length === longest));
}

// Search every bundle for `query`, with Pagefind filters `chosen` ({类型: "行政处罚", …});
// returns Pagefind's results (best first) and the filter counts of the pages found.
export async function search(query, chosen = {}) {
  const index = await load();
  const terms = words(query);
  if (index === null || (terms.length === 0 && Object.keys(chosen).length === 0)) {
    return NOTHING;
  }
  let bundles = index.names;
  if (terms.length > 0) {
    const held = (await Promise.all(terms.map((term) => holding(index.pagefind, term)))).filter(
      (each) => each !== null,
    );
    if (held.length === 0) {
      return NOTHING;
    }
    bundles = bundles.filter((name) => held.every((each) => each.has(name)));
    if (bundles.length === 0) {
      return NOTHING;
    }
  }
  const found = await index.pagefind.search(terms.length > 0 ? terms.join(" ") : null, {
    filters: { ...chosen, [BUNDLE]: { any: bundles } },
  });
  return { results: found.results, filters: withoutBundle(found.filters) };
}

// The page's form, results and filters.

const SPELT = /\s*qz[a-p]{4,}/g; // the spelt bigrams a page holds for search, never shown
const AROUND = 40; // characters of excerpt before the first word found

// An excerpt of the page's text around the first word of `query` found, the words marked:
// Pagefind's own would show the spelt bigrams it matched.
export function excerptNodes(content, query) {
  const text = content.replace(SPELT, "").trim();
  const folded = normalize(text);
  const pieces = runs(query).flatMap(([run, ideographs]) => (ideographs ? grams(run) : [run]));
  const hits = [];
  for (const piece of pieces) {
    for (let at = folded.indexOf(piece); at >= 0; at = folded.indexOf(piece, at + 1)) {
      hits.push([at, at + piece.length]);
    }
  }
  hits.sort((a, b) => a[0] - b[0]);
  const from = hits.length ? Math.max(0, hits[0][0] - AROUND) : 0;
  const to = Math.min(text.length, from + AROUND * 3);
  const nodes = [document.createTextNode(from > 0 ? "…" : "")];
  let at = from;
  for (const [start, end] of hits) {
    if (start < at || end > to) {
      continue;
    }
    nodes.push(document.createTextNode(text.slice(at, start)));
    const mark = document.createElement("mark");
    mark.textContent = text.slice(start, end);
    nodes.push(mark);
    at = end;
  }
  nodes.push(document.createTextNode(text.slice(at, to) + (to < text.length ? "…" : "")));
  return nodes;
}

function resultItem(data, query) {
  const item = document.createElement("li");
  const title = document.createElement("a");
  title.href = data.url;
  title.className = "result-title";
  title.textContent = (data.meta && data.meta.title) || data.url;
  const about = document.createElement("p");
  about.className = "result-about";
  const kind = ((data.filters || {})["类型"] || [])[0];
  about.textContent = [kind, data.meta && data.meta.subject].filter(Boolean).join(" · ");
  const excerpt = document.createElement("p");
  excerpt.className = "result-excerpt";
  excerpt.append(...excerptNodes(data.content || "", query));
  item.append(title, about, excerpt);
  return item;
}

// The serving node's feed of this search (the <link rel="alternate"> the page names, and the
// link beside the results), following the query.
function followFeed(params) {
  const feed = document.getElementById("search-feed");
  const link = document.getElementById("search-feed-link");
  if (!feed) {
    return;
  }
  feed.dataset.base = feed.dataset.base || feed.href;
  const query = params.toString();
  feed.href = query ? `${feed.dataset.base}?${query}` : feed.dataset.base;
  if (link) {
    link.href = feed.href;
    link.hidden = !query;
  }
}

function start(form) {
  const input = form.querySelector("input[type=search]");
  const status = document.getElementById("search-status");
  const list = document.getElementById("search-results");
  const more = document.getElementById("search-more");
  const panel = document.getElementById("search-filters");
  const selects = Object.fromEntries(
    FILTERS.map((key) => [key, form.querySelector(`select[data-filter="${key}"]`)]),
  );
  let current = null; // the latest search: later ones replace it
  let shown = 0;
  let filtersLoaded = false;

  function fillFilters(counts) {
    for (const key of FILTERS) {
      const select = selects[key];
      const values = counts[key] || {};
      const chosen = select.value;
      const names = Object.keys(values).sort((a, b) => a.localeCompare(b, LANGUAGE));
      if (chosen && !names.includes(chosen)) {
        names.push(chosen);
      }
      select.replaceChildren(new Option("全部", ""));
      for (const name of names) {
        select.append(new Option(`${name}（${values[name] || 0}）`, name, false, name === chosen));
      }
    }
  }

  function chosenFilters() {
    const chosen = {};
    for (const key of FILTERS) {
      if (selects[key].value) {
        chosen[key] = selects[key].value;
      }
    }
    return chosen;
  }

  async function showMore(results, query) {
    const page = results.slice(shown, shown + PAGE_SIZE);
    const pages = await Promise.all(page.map((result) => result.data()));
    if (current === null || current.results !== results) {
      return; // a newer search replaced this one
    }
    list.append(...pages.map((data) => resultItem(data, query)));
    shown += page.length;
    more.hidden = shown >= results.length;
  }

  async function run() {
    const query = input.value.trim();
    const chosen = chosenFilters();
    const params = new URLSearchParams(query ? { q: query } : {});
    const address = params.toString() ? `?${params}` : window.location.pathname;
    window.history.replaceState(null, "", address);
    followFeed(params);
    const mine = { results: null, query };
    current = mine;
    status.textContent = "正在搜索…";
    let found;
    try {
      found = await search(query, chosen);
    } catch (error) {
      if (current === mine) {
        status.textContent = "搜索暂时不可用，请稍后再试。";
      }
      throw error;
    }
    if (current !== mine) {
      return;
    }
    mine.results = found.results;
    mine.query = query;
    list.replaceChildren();
    shown = 0;
    more.hidden = true;
    if (filtersLoaded) {
      fillFilters(query || Object.keys(chosen).length ? found.filters : await filters());
    }
    if (!query && Object.keys(chosen).length === 0) {
      status.textContent = "";
      return;
    }
    status.textContent = found.results.length
      ? `找到 ${found.results.length} 条结果`
      : "没有找到结果。请换一个词，或减少筛选条件。";
    await showMore(found.results, query);
  }

  let timer = null;
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(run, 300);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(timer);
    run();
  });
  for (const select of Object.values(selects)) {
    select.addEventListener("change", run);
  }
  more.addEventListener("click", () => {
    if (current && current.results) {
      showMore(current.results, current.query);
    }
  });
  panel.addEventListener("toggle", async () => {
    if (panel.open && !filtersLoaded) {
      filtersLoaded = true;
      fillFilters(await filters());
      if (input.value.trim()) {
        run(); // the counts of the pages found
      }
    }
  });
  const query = new URLSearchParams(window.location.search).get("q");
  if (query) {
    input.value = query;
    run();
  }
}

const form = document.getElementById("search-form");
if (form) {
  form.hidden = false;
  start(form);
}
