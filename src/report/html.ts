import { createHash } from 'node:crypto';
import type { Verdict } from '../common/verdict.js';
import {
  configSlug,
  VERDICT_WORDS,
  accelName,
  baseRows,
  checkpatchErrors,
  firstFailingPatch,
  flakyText,
  gapLabels,
  locationLine,
  missingPatchNumbers,
  notRun,
  patchLabel,
  preExistingOf,
  reuseOf,
  seriesPatches,
  attestationRows,
  stageCellText,
  statusText,
} from './facts.js';
import { BYTES_COUNTER, CUMULATIVE_COUNTER } from '../guest/protocol.js';
import type { RenderOptions } from './markdown.js';
import { cleanLine, escapeHtml, formatDuration, linkTo, plural, shortCommit } from './text.js';
import { STAGES, type CounterSample, type PatchReport, type RunReport, type StageName, type TestDetails } from './types.js';

/**
 * index.html: one self-contained page (inline CSS, inline SVG, a few lines of vanilla JS behind a
 * CSP hash, no external requests). Every string from mail or logs goes through escapeHtml.
 */

const h = escapeHtml;

const CSS = `
:root{--pass:#2e7d32;--fail:#c62828;--error:#6a1b9a;--skipped:#9e9e9e;--flaky:#ef6c00;--bg:#fff;--fg:#1a1a1a;--muted:#666;--line:#ddd}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1200px;padding:16px 24px 64px}
h1{font-size:20px;margin:8px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}h4{font-size:14px;margin:14px 0 4px}
a{color:#1565c0}code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f6f6f6;border:1px solid var(--line);padding:8px;overflow:auto;max-height:420px;white-space:pre}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}th{background:#fafafa}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.v-pass{background:var(--pass);color:#fff}.v-fail{background:var(--fail);color:#fff}.v-error{background:var(--error);color:#fff}.v-skipped{background:#e0e0e0;color:#333}.v-flaky{background:var(--flaky);color:#fff}
td.cell{text-align:center;min-width:78px;padding:0}td.cell a{display:block;padding:4px 8px;color:inherit;text-decoration:none}td.cell a:hover{outline:2px solid #000;outline-offset:-2px}
.grid td.subject{max-width:520px}.muted{color:var(--muted)}.warn{background:#fff3e0;border-left:4px solid var(--flaky);padding:8px 12px}
.gap{color:var(--fail);font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:24px}.chart{border:1px solid var(--line);padding:8px}
.plot-groups{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}.plot-group{flex:1 1 400px}.plot-group[hidden]{display:none}svg text.unit{fill:#777}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plot{border:1px solid var(--line);padding:6px;margin:0}.legend{max-width:380px;font-size:12px}.key{white-space:nowrap;margin-right:8px}
svg text{font:11px system-ui,sans-serif;fill:#333}
details>summary{cursor:pointer;font-weight:600;padding:4px 0}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
`;

/** Shows one patch's counter plots (beside its base's, by default) once JS runs; without JS every plot stays visible. */
const SCRIPT = `(function(){var s=document.getElementById('plot-select');if(!s)return;var c=document.getElementById('plot-base');function show(){var v=s.value;var g=document.querySelector('[data-plots="'+v+'"]');var b=c&&c.checked&&g?g.getAttribute('data-base'):null;document.querySelectorAll('[data-plots]').forEach(function(e){var a=e.getAttribute('data-plots');e.hidden=a!==v&&a!==b;});}s.addEventListener('change',show);if(c)c.addEventListener('change',show);show();})();`;

function sha256Base64(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('base64');
}

const COLORS = ['#1565c0', '#c62828', '#2e7d32', '#ef6c00', '#6a1b9a', '#00838f', '#5d4037', '#ad1457'];
/** Dash patterns per series, so that lines lying on top of each other (zswpwb, written_back_pages) both show. */
const DASHES = ['', '', '', '', '5 3', '2 2', '8 3 2 3', '1 3'];
const COUNTER_ORDER = ['stored_pages', 'zswpout', 'zswpin', 'zswpwb', 'written_back_pages'];

function counterRank(name: string): number {
  const i = COUNTER_ORDER.indexOf(name);
  return i < 0 ? COUNTER_ORDER.length : i;
}

function anchorOf(p: PatchReport, stage?: StageName): string {
  const base = `${p.index === 0 ? 'base' : `p${p.index}`}${configSlug(p)}`;
  return stage ? `${base}-${stage}` : base;
}

function badge(v: Verdict, text = VERDICT_WORDS[v]): string {
  return `<span class="badge v-${v}">${h(text)}</span>`;
}

function fileLink(opts: RenderOptions, rel: string, text: string): string {
  const target = linkTo(opts.linkPrefix, rel);
  // Report paths are relative; a scheme other than http(s) (javascript:, data:) never becomes a link.
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) && !safeUrl(target)) return `${h(text)} <code>${h(rel)}</code>`;
  return `<a href="${h(encodeURI(target))}">${h(text)}</a>`;
}

function safeUrl(url: string): string | undefined {
  return /^https?:\/\//i.test(url) ? url : undefined;
}

function header(report: RunReport): string {
  const s = report.series;
  const bad = firstFailingPatch(report);
  const parts = [
    `<h1>${h(`v${s.version}`)} ${h(s.subject)}</h1>`,
    `<p>${badge(report.verdict)} ${h(report.summary)}</p>`,
  ];
  if (bad) parts.push(`<p>First bad patch: <a href="#${anchorOf(bad)}"><strong>${h(patchLabel(bad, report))}</strong> ${h(bad.subject)}</a></p>`);
  if (report.status !== 'complete') {
    const missing = [...notRun(report).map((p) => patchLabel(p, report)), ...missingPatchNumbers(report).map((k) => `${k}/${s.patches.length}`)];
    parts.push(
      `<p class="warn"><strong>Partial report:</strong> the run is ${h(statusText(report))}${report.statusReason ? ` (${h(report.statusReason)})` : ''}.${missing.length ? ` Not tested: ${h(missing.join(', '))}.` : ''}</p>`,
    );
  }
  const thread = s.threadUrl && safeUrl(s.threadUrl) ? `<a href="${h(s.threadUrl)}">${h(s.threadUrl)}</a>` : h(s.threadUrl ?? '');
  const e = report.environment;
  const rows: [string, string][] = [
    ['Series', `v${s.version}, ${h(plural(s.patches.length || seriesPatches(report).length, 'patch', 'patches'))}${s.cover ? `, cover letter from ${h(s.cover.author.name)} &lt;${h(s.cover.author.email)}&gt;` : ''}`],
    ['Thread', thread || '<span class="muted">none (not from lore)</span>'],
    ['Source', `<code>${h(s.source)}</code>`],
    ['Base', `<code>${h(report.base.commit)}</code> (${h(report.base.source)}): ${h(report.base.reason)}`],
    ['Accelerator', `${accelName(report)}: ${h(e.accel.reason)}`],
    ...(e.sandbox ? ([['Sandbox', e.sandbox.mode === 'none' ? `<strong>${h(e.sandbox.detail)}</strong>` : h(e.sandbox.detail)]] as [string, string][]) : []),
    [e.configs ? 'Configs' : 'Config', (e.configs ?? [e.config]).map((c) => `${h(c.name)} <code>${h(c.hash)}</code>: ${c.fragments.map((f) => `<code>${h(f)}</code>`).join(', ')}`).join('; ')],
    ['Profile', `${h(e.profile)}; tests: ${h(e.tests.join(', '))}`],
    ['Host', `${h(e.host.hostname)}, Linux ${h(e.host.kernel)}, ${plural(e.host.cpus, 'CPU')}, ${e.host.memoryGiB} GiB${e.arch ? `, ${h(e.arch)}` : ''}`],
    ['Tree', `<code>${h(e.tree.repo)}</code>${e.tree.name ? ` (${h(e.tree.name)})` : ''}${e.tree.url ? ` ${h(e.tree.url)}` : ''}`],
    ['Versions', Object.entries(e.versions).map(([k, v]) => `${h(k)} ${h(v)}`).join('; ')],
    ['Run', `<code>${h(report.runId)}</code>, ${h(report.startedAt)} to ${h(report.finishedAt)} (${h(formatDuration(report.durationMs))}), kharness ${h(report.tool.version)}, exit code ${report.exitCode}`],
  ];
  const attested = attestationRows(report);
  if (attested.length) rows.push(['Attestation', attested.map((a) => `${h(a.label)}: ${a.status === 'bad' ? `<strong>${h(a.summary)}</strong>` : h(a.summary)}`).join('<br>')]);
  for (const w of s.warnings) rows.push(['Warning', h(w)]);
  parts.push(`<dl class="kv">${rows.map(([k, v]) => `<dt>${h(k)}</dt><dd>${v}</dd>`).join('')}</dl>`);
  return parts.join('\n');
}

function grid(report: RunReport): string {
  const head = `<tr><th>patch</th><th>subject</th>${STAGES.map((s) => `<th>${s}</th>`).join('')}<th>verdict</th></tr>`;
  const rows = report.patches.map((p) => {
    const cells = STAGES.map((s) => {
      const st = p.stages[s];
      return `<td class="cell v-${st.verdict}" title="${h(`${s}: ${st.summary}`)}"><a href="#${anchorOf(p, s)}">${h(stageCellText(st))}</a></td>`;
    }).join('');
    const subject = p.index === 0 ? `<code>${h(shortCommit(p.commit ?? report.base.commit))}</code> <span class="muted">base</span>` : h(p.subject);
    const pre = `${p.index > 0 && preExistingOf(p).length ? ' <span class="muted">(pre-existing failures not blamed)</span>' : ''}${reuseOf(p) ? ` <span class="muted">(${h(reuseOf(p)!)})</span>` : ''}`;
    return `<tr><th><a href="#${anchorOf(p)}">${h(patchLabel(p, report))}</a></th><td class="subject">${subject}</td>${cells}<td class="cell v-${p.verdict}"><a href="#${anchorOf(p)}">${h(VERDICT_WORDS[p.verdict])}</a>${pre}</td></tr>`;
  });
  for (const k of missingPatchNumbers(report)) {
    rows.push(`<tr><th>${k}/${report.series.patches.length}</th><td class="subject">${h(report.series.patches.find((x) => x.index === k)?.subject ?? '')}</td>${STAGES.map(() => '<td class="cell v-skipped">not run</td>').join('')}<td class="cell v-skipped">not run</td></tr>`);
  }
  const note = baseRows(report)
    .filter((b) => b.verdict !== 'pass')
    .map((b) => `<p>The base itself${b.config ? ` with ${h(b.config)}` : ''} is ${badge(b.verdict)}: ${h(b.summary)}. What fails on the base is not blamed on the series.</p>`)
    .join('');
  return `<h2 id="verdicts">Verdicts</h2>\n<table class="grid">${head}${rows.join('\n')}</table>\n${note}`;
}

/** Horizontal bar chart, one bar per item, with the value written after the bar. */
function barChart(title: string, items: { label: string; value: number; text: string; cls: string }[]): string {
  const labelW = Math.max(60, 12 + 7 * Math.max(0, ...items.map((i) => i.label.length)));
  const width = 400 + labelW;
  const valueW = 90;
  const row = 22;
  const max = Math.max(1, ...items.map((i) => i.value));
  const scale = (v: number): number => ((width - labelW - valueW) * v) / max;
  const bars = items
    .map((item, i) => {
      const y = 8 + i * row;
      const w = Math.max(item.value > 0 ? 2 : 0, scale(item.value));
      return `<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${h(item.label)}</text><rect class="${item.cls}" x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 8}" fill="${item.cls === 'v-fail' ? '#c62828' : '#1565c0'}"><title>${h(`${item.label}: ${item.text}`)}</title></rect><text x="${(labelW + w + 6).toFixed(1)}" y="${y + 14}">${h(item.text)}</text>`;
    })
    .join('');
  const height = 16 + items.length * row;
  return `<figure class="chart"><figcaption><strong>${h(title)}</strong></figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${h(title)}">${bars}</svg></figure>`;
}

function buildCharts(report: RunReport): string {
  const built = report.patches.filter((p) => p.build);
  if (!built.length) return '';
  const times = built.map((p) => ({ label: patchLabel(p, report), value: p.build!.durationMs / 1000, text: `${formatDuration(p.build!.durationMs)}${p.build!.cached ? ' (cached)' : ''}`, cls: p.stages.build.verdict === 'fail' ? 'v-fail' : 'bar' }));
  const warnings = built.map((p) => ({ label: patchLabel(p, report), value: p.build!.newWarnings.length, text: String(p.build!.newWarnings.length), cls: p.build!.newWarnings.length ? 'v-fail' : 'bar' }));
  return `<h2 id="builds">Builds</h2><div class="charts">${barChart('Build time per patch', times)}${barChart('New warnings per patch', warnings)}</div>`;
}

/** Evenly thins a series to at most `max` points, keeping the first and the last. */
function thin(samples: CounterSample[], max = 300): CounterSample[] {
  if (samples.length <= max) return samples;
  const out: CounterSample[] = [];
  const step = (samples.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(samples[Math.round(i * step)]!);
  return out;
}

function nice(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}k`;
  return String(n >= 100 ? Math.round(n) : Math.round(n * 10) / 10);
}

interface PlotPanel {
  unit: 'pages' | 'bytes';
  names: string[];
  /** each series' values by sample, NaN where a sample lacks it */
  values: Map<string, number[]>;
  max: number;
}

/**
 * The panels of one test's plot: page and event counts on one axis, byte counters on their own
 * (pool_total_size in bytes flattened every page count to zero). Cumulative counters are drawn as
 * their change since the test's first sample: since boot, swap_ra and pswpin dwarf the test's own.
 */
function plotPanels(samples: readonly CounterSample[]): PlotPanel[] {
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.values)))].sort((a, b) => counterRank(a) - counterRank(b) || a.localeCompare(b));
  const panels: PlotPanel[] = [];
  for (const unit of ['pages', 'bytes'] as const) {
    const mine = names.filter((n) => BYTES_COUNTER.test(n) === (unit === 'bytes'));
    if (!mine.length) continue;
    const values = new Map<string, number[]>();
    for (const name of mine) {
      const raw = samples.map((s) => s.values[name] ?? NaN);
      const first = raw.find((v) => Number.isFinite(v)) ?? 0;
      values.set(name, CUMULATIVE_COUNTER.test(name) ? raw.map((v) => v - first) : raw);
    }
    const all = [...values.values()].flat().filter((v) => Number.isFinite(v));
    panels.push({ unit, names: mine, values, max: Math.max(1, ...all) });
  }
  return panels;
}

function niceBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(0)} KiB`;
  return `${Math.round(n)} B`;
}

/** One panel's axes and lines, `top` px down the plot; `first` is the first series' colour index. */
function panelSvg(panel: PlotPanel, samples: readonly CounterSample[], box: { W: number; top: number; h: number }, first: number): string {
  const m = { l: 52, r: 12 };
  const t0 = samples[0]!.t;
  const t1 = samples[samples.length - 1]!.t;
  const bottom = box.top + box.h;
  const x = (t: number): number => m.l + ((box.W - m.l - m.r) * (t - t0)) / Math.max(1e-9, t1 - t0);
  const y = (v: number): number => bottom - (box.h * Math.max(0, v)) / panel.max;
  const label = panel.unit === 'bytes' ? niceBytes : nice;
  const lines = panel.names
    .map((name, k) => {
      const i = first + k;
      const vs = panel.values.get(name)!;
      const pts = samples.flatMap((s, j) => (Number.isFinite(vs[j]) ? [`${x(s.t).toFixed(1)},${y(vs[j]!).toFixed(1)}`] : []));
      const dash = DASHES[i % DASHES.length] ? ` stroke-dasharray="${DASHES[i % DASHES.length]}"` : '';
      return pts.length ? `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5"${dash} points="${pts.join(' ')}"><title>${h(name)}</title></polyline>` : '';
    })
    .join('');
  const axes =
    `<line x1="${m.l}" y1="${bottom}" x2="${box.W - m.r}" y2="${bottom}" stroke="#999"/><line x1="${m.l}" y1="${box.top}" x2="${m.l}" y2="${bottom}" stroke="#999"/>` +
    `<line x1="${m.l}" y1="${y(panel.max / 2).toFixed(1)}" x2="${box.W - m.r}" y2="${y(panel.max / 2).toFixed(1)}" stroke="#eee"/>` +
    `<text x="${m.l - 4}" y="${box.top + 8}" text-anchor="end">${label(panel.max)}</text><text x="${m.l - 4}" y="${(y(panel.max / 2) + 4).toFixed(1)}" text-anchor="end">${label(panel.max / 2)}</text><text x="${m.l - 4}" y="${bottom}" text-anchor="end">0</text>` +
    `<text x="${box.W - m.r}" y="${box.top + 8}" text-anchor="end" class="unit">${panel.unit}</text>`;
  return axes + lines;
}

/** One small plot of a test's zswap counters over time: pages and bytes in panels of their own. */
function counterPlot(t: TestDetails): string {
  const samples = thin([...t.samples].sort((a, b) => a.t - b.t));
  if (samples.length < 2) return '';
  const panels = plotPanels(samples);
  const W = 380;
  const panelH = 120;
  const gap = 18;
  const top = 10;
  const H = top + panels.length * panelH + (panels.length - 1) * gap + 22;
  let first = 0;
  const parts = panels.map((panel, k) => {
    const svg = panelSvg(panel, samples, { W, top: top + k * (panelH + gap), h: panelH }, first);
    first += panel.names.length;
    return svg;
  });
  const t0 = samples[0]!.t;
  const t1 = samples[samples.length - 1]!.t;
  const tm = (t0 + t1) / 2;
  const xm = 52 + (W - 52 - 12) / 2;
  const timeAxis = `<text x="52" y="${H - 8}">${nice(t0)} s</text><text x="${xm.toFixed(1)}" y="${H - 8}" text-anchor="middle">${nice(tm)} s</text><text x="${W - 12}" y="${H - 8}" text-anchor="end">${nice(t1)} s</text>`;
  const legend = panels
    .flatMap((p) => p.names)
    .map((name, i) => {
      const dash = DASHES[i % DASHES.length] ? ` stroke-dasharray="${DASHES[i % DASHES.length]}"` : '';
      const since = CUMULATIVE_COUNTER.test(name) ? ' (+ since start)' : '';
      return `<span class="key"><svg width="22" height="8" aria-hidden="true"><line x1="0" y1="4" x2="22" y2="4" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"${dash}/></svg> ${h(name)}${since}</span>`;
    })
    .join(' ');
  return `<figure class="plot"><figcaption>${h(t.name)} ${badge(t.verdict)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${h(`zswap counters during ${t.name}`)}">${parts.join('')}${timeAxis}</svg><div class="legend">${legend}</div></figure>`;
}

/** The base run of the same config as `p`: its plots go beside `p`'s. */
function baseOf(report: RunReport, p: PatchReport): PatchReport | undefined {
  return report.patches.find((b) => b.index === 0 && configSlug(b) === configSlug(p));
}

function plotsSection(report: RunReport): string {
  const withSamples = report.patches.filter((p) => p.tests.some((t) => t.samples.length >= 2));
  if (!withSamples.length) return '';
  const first = firstFailingPatch(report);
  const preferred = first && withSamples.includes(first) ? first : withSamples[withSamples.length - 1]!;
  const options = withSamples
    .map((p) => `<option value="${anchorOf(p)}"${p === preferred ? ' selected' : ''}>${h(`${patchLabel(p, report)} ${p.index === 0 ? '' : cleanLine(p.subject)}`.trim())} (${h(VERDICT_WORDS[p.verdict])})</option>`)
    .join('');
  const groups = withSamples
    .map((p) => {
      const base = baseOf(report, p);
      const baseAttr = base && base !== p && withSamples.includes(base) ? ` data-base="${anchorOf(base)}"` : '';
      return `<div class="plot-group" data-plots="${anchorOf(p)}"${baseAttr}><h3>${h(patchLabel(p, report))}${p.index ? `: ${h(p.subject)}` : ''}</h3><div class="plots">${p.tests.map(counterPlot).join('')}</div></div>`;
    })
    .join('\n');
  return `<h2 id="counters">zswap counters during the stress run</h2><p><label for="plot-select">Patch: </label><select id="plot-select">${options}</select> <label><input type="checkbox" id="plot-base" checked> beside its base</label> <span class="muted">stored_pages, zswpout, zswpin, zswpwb, written_back_pages over time (seconds since the test started); page counts and bytes on axes of their own; cumulative counters as their change since the test started</span></p><div class="plot-groups">${groups}</div>`;
}

function listHtml(items: string[], max = 20): string {
  const shown = items.slice(0, max).map((i) => `<li>${i}</li>`);
  if (items.length > max) shown.push(`<li class="muted">... and ${items.length - max} more</li>`);
  return `<ul>${shown.join('')}</ul>`;
}

function testHtml(t: TestDetails): string {
  const parts = [`<h4>Test ${h(t.name)} ${badge(t.verdict)}${t.durationMs !== undefined ? ` <span class="muted">${h(formatDuration(t.durationMs))}</span>` : ''}</h4><p>${h(t.summary)}</p>`];
  for (const f of t.findings) {
    parts.push(
      `<h4>${f.title.includes(f.kind) ? h(f.title) : `${h(f.kind)}: ${h(f.title)}`}</h4>` +
        (f.function ? `<p>Blamed function: <code>${h(f.function)}</code></p>` : '') +
        (f.callTrace.length ? `<p>Call trace: ${f.callTrace.slice(0, 12).map((c) => `<code>${h(c)}</code>`).join(' ← ')}</p>` : '') +
        `<p class="muted">Signature: <code>${h(f.signature)}</code></p><pre>${h(f.excerpt)}</pre>`,
    );
  }
  if (t.badPagesTotal || t.badPages.length) {
    parts.push(`<h4>Wrong pages: ${t.badPagesTotal}</h4>${listHtml(t.badPages.map((b) => h(b.description)))}${t.badPagesTotal > t.badPages.length ? `<p class="muted">${t.badPagesTotal - t.badPages.length} more not listed in the report</p>` : ''}`);
  }
  for (const v of t.violations) {
    const where = [v.slot ? `slot ${v.slot}` : '', v.entry ? `entry ${v.entry}` : ''].filter(Boolean).join(', ');
    parts.push(`<h4>Model violation <code>${h(v.rule)}</code>${where ? ` (${h(where)})` : ''}</h4><p>${h(v.message)}</p>${v.events.length ? `<pre>${h(v.events.join('\n'))}</pre>` : ''}`);
  }
  const failed = t.selftest?.filter((c) => c.status === 'fail') ?? [];
  if (failed.length) parts.push(`<p>Selftest cases failed: ${failed.map((c) => `${c.number} <code>${h(c.name)}</code>`).join(', ')}</p>`);
  const flaky = t.selftest?.filter((c) => c.status === 'flaky') ?? [];
  if (flaky.length) parts.push(`<p>Selftest cases flaky: ${flaky.map((c) => `${c.number} <code>${h(c.name)}</code> (${h(c.directive ?? '')})`).join(', ')}</p>`);
  parts.push(
    `<table><tr><th>check</th><th>verdict</th><th>why</th></tr>` +
      `<tr><td>trace conformance</td><td>${h(t.conformance.verdict)}</td><td>${h(t.conformance.reason)}${t.conformance.events !== undefined ? ` (${t.conformance.events} events)` : ''}</td></tr>` +
      `<tr><td>data oracle</td><td>${h(t.dataOracle.verdict)}</td><td>${h(t.dataOracle.reason)}${t.dataOracle.reads !== undefined ? ` (${t.dataOracle.reads} reads)` : ''}</td></tr>` +
      `<tr><td>counter oracle</td><td>${h(t.counterOracle.verdict)}</td><td>${h(t.counterOracle.reason)}</td></tr></table>`,
  );
  if (t.coverage.length) {
    const gaps = new Set(t.gaps);
    parts.push(
      `<details><summary>Lifetime-path coverage (${t.coverage.filter((c) => c.count > 0).length}/${t.coverage.length} paths ran${t.gaps.length ? `, ${t.gaps.length} expected never ran` : ''})</summary><table><tr><th>path</th><th>count</th></tr>${t.coverage
        .map((c) => `<tr${gaps.has(c.path) ? ' class="gap"' : ''}><td>${h(c.label)}</td><td>${c.count}${gaps.has(c.path) ? ' (expected, never ran)' : ''}</td></tr>`)
        .join('')}</table></details>`,
    );
  }
  const gaps = gapLabels(t);
  if (gaps.length) parts.push(`<p class="gap">never ran: ${h(gaps.join(', '))}</p>`);
  if (t.preExisting.length) parts.push(`<p>Already failing on the base: not blamed: ${h(t.preExisting.join('; '))}</p>`);
  if (t.reusedFrom) parts.push(`<p class="muted">Same kernel as ${h(t.reusedFrom)}: its result, reused (not run again).</p>`);
  return parts.join('\n');
}

function stageHtml(p: PatchReport, s: StageName, opts: RenderOptions): string {
  const st = p.stages[s];
  const counts = flakyText(st.flakyCounts);
  const logs = Object.entries(st.logs).map(([name, rel]) => fileLink(opts, rel, name));
  const parts = [
    `<h3 id="${anchorOf(p, s)}">${s} ${badge(st.verdict, stageCellText(st))}</h3>`,
    `<p>${h(st.summary)}${st.durationMs !== undefined ? ` <span class="muted">(${h(formatDuration(st.durationMs))})</span>` : ''}${counts ? ` <strong>Retries:</strong> ${h(counts)}` : ''}${logs.length ? ` Logs: ${logs.join(', ')}` : ''}</p>`,
  ];
  if (st.evidence.length && st.verdict !== 'pass') parts.push(`<pre>${h(st.evidence.join('\n'))}</pre>`);
  if (s === 'build' && p.build) {
    const b = p.build;
    parts.push(`<p>${h(formatDuration(b.durationMs))}${b.cached ? ' (cached)' : ''}, ${b.objectsBuilt} objects, ${b.warningsTotal} warnings in total${b.checkpatch ? `, checkpatch ${b.checkpatch.errors} errors / ${b.checkpatch.warnings} warnings / ${b.checkpatch.checks} checks` : ''}</p>`);
    if (b.errors.length) parts.push(`<h4>Build errors</h4>${listHtml(b.errors.map((e) => `<code>${h(locationLine(e))}</code>`))}`);
    if (b.newWarnings.length) parts.push(`<h4>New warnings</h4>${listHtml(b.newWarnings.map((w) => `<code>${h(locationLine(w))}</code>`))}`);
    const cp = checkpatchErrors(p);
    if (cp.length) parts.push(`<h4>checkpatch errors</h4>${listHtml(cp.map((f) => `<code>${h(f.type)}</code> ${h(f.message)}${f.location ? ` at <code>${h(f.location)}</code>` : ''}`))}`);
  }
  if (s === 'boot' && p.boot) {
    parts.push(`<p>${h(p.boot.status)}: ${h(p.boot.reason)} (${h(p.boot.accel)}, ${h(formatDuration(p.boot.durationMs))}${p.boot.bootToCommandMs !== undefined ? `, guest ready after ${h(formatDuration(p.boot.bootToCommandMs))}` : ''})${p.boot.consoleLog ? ` ${fileLink(opts, p.boot.consoleLog, 'console log')}` : ''}</p>`);
    if (st.verdict !== 'pass' && st.verdict !== 'skipped' && p.boot.consoleTail) parts.push(`<pre>${h(p.boot.consoleTail)}</pre>`);
  }
  if (s === 'test') parts.push(...p.tests.map(testHtml));
  return parts.join('\n');
}

function patchDetails(p: PatchReport, report: RunReport, opts: RenderOptions): string {
  const title = p.index === 0 ? `Base ${shortCommit(p.commit ?? report.base.commit)}` : `Patch ${patchLabel(p, report)}: ${p.subject}`;
  const open = p.verdict !== 'pass' || p === firstFailingPatch(report) ? ' open' : '';
  const who = p.author ? `<p>From ${h(p.author.name)} &lt;${h(p.author.email)}&gt;${p.messageId ? `, <code>&lt;${h(p.messageId)}&gt;</code>` : ''}${p.commit ? `, commit <code>${h(shortCommit(p.commit))}</code>` : ''}</p>` : '';
  const pre = preExistingOf(p);
  const preHtml = pre.length && p.index > 0 ? `<h4>Already failing on the base: not blamed</h4>${listHtml(pre.map(h))}` : '';
  return `<section id="${anchorOf(p)}"><details${open}><summary>${h(title)} ${badge(p.verdict)}</summary><p>${h(p.summary)}</p>${who}${preHtml}${STAGES.map((s) => stageHtml(p, s, opts)).join('\n')}</details></section>`;
}

function filesHtml(report: RunReport, opts: RenderOptions): string {
  const entries = Object.entries(report.files);
  if (!entries.length) return '';
  return `<h2 id="files">Files</h2><ul>${entries.map(([name, rel]) => `<li>${fileLink(opts, rel, name)}</li>`).join('')}</ul>`;
}

/** index.html. Pure: the same report gives the same page. */
export function renderHtml(report: RunReport, opts: RenderOptions = {}): string {
  const csp = `default-src 'none'; style-src 'sha256-${sha256Base64(CSS)}'; script-src 'sha256-${sha256Base64(SCRIPT)}'; img-src data:; base-uri 'none'; form-action 'none'`;
  const body = [
    header(report),
    grid(report),
    buildCharts(report),
    plotsSection(report),
    `<h2 id="details">Details</h2>`,
    ...report.patches.map((p) => patchDetails(p, report, opts)),
    filesHtml(report, opts),
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kharness ${h(report.tool.version)}">
<title>${h(`kharness: ${VERDICT_WORDS[report.verdict]}: v${report.series.version} ${report.series.subject}`)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
<script>${SCRIPT}</script>
</body>
</html>
`;
}
