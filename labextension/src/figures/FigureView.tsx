/** Drawing one logged figure (core/figures.py): PNG/SVG as an image, a plotly figure with plotly.js (loaded from the
 * server like the notebook widgets' charts; its PNG when it has one and plotly.js cannot load), a confusion matrix
 * as a heatmap grid with its counts (or normalised), and a step slider for figures logged over steps. */
import { ServerConnection } from '@jupyterlab/services';
import * as React from 'react';

import { ConfusionMatrix, errorMessage, Figure, FigureStep, getArtifactBlob, getArtifactJson } from '../api';

/** Artifact files are immutable (an artifact id and a path name fixed bytes): fetched once per page. */
const blobUrls = new Map<string, Promise<string>>();
const jsonFiles = new Map<string, Promise<unknown>>();
const MAX_CACHED = 400;
/** Images narrower than this (pixels) are scaled up with their pixels kept sharp (a 28 × 28 digit, say). */
const SMALL_IMAGE = 160;

function remember<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>, drop?: (v: T) => void) {
  let p = cache.get(key);
  if (!p) {
    p = load();
    p.catch(() => cache.delete(key));
    cache.set(key, p);
    if (cache.size > MAX_CACHED) {
      const oldest = cache.keys().next().value as string;
      const gone = cache.get(oldest);
      cache.delete(oldest);
      if (gone && drop) {
        void gone.then(drop, () => undefined);
      }
    }
  }
  return p;
}

function useLoaded<T>(key: string, load: () => Promise<T>): { value?: T; error?: string } {
  const [state, setState] = React.useState<{ key: string; value?: T; error?: string }>({ key });
  React.useEffect(() => {
    let live = true;
    load().then(
      value => live && setState({ key, value }),
      err => live && setState({ key, error: errorMessage(err) })
    );
    return () => {
      live = false;
    };
  }, [key]);
  return state.key === key ? state : {};
}

function fileOf(step: FigureStep, ...paths: string[]): string | null {
  for (const p of paths) {
    if (step.files.some(f => f.path === p)) {
      return p;
    }
  }
  return null;
}

/** An artifact image, fetched with the API's credentials and shown through an object URL. */
export function ArtifactImage(props: {
  artifactId: number;
  path: string;
  alt: string;
  settings: ServerConnection.ISettings;
}): JSX.Element {
  const key = `${props.artifactId}/${props.path}`;
  const res = useLoaded(key, () =>
    remember(
      blobUrls,
      key,
      async () => URL.createObjectURL(await getArtifactBlob(props.artifactId, props.path, props.settings)),
      url => URL.revokeObjectURL(url)
    )
  );
  const [small, setSmall] = React.useState(false);
  if (res.error) {
    return <div className="jp-mltrack-error-message">{res.error}</div>;
  }
  return res.value ? (
    <img
      className={'jp-mltrack-figure-img' + (small ? ' jp-mltrack-figure-img-small' : '')}
      src={res.value}
      alt={props.alt}
      data-artifact={key}
      onLoad={e => setSmall(e.currentTarget.naturalWidth < SMALL_IMAGE)}
    />
  ) : (
    <div className="jp-mltrack-figure-placeholder">Loading…</div>
  );
}

function artifactJson<T>(artifactId: number, path: string, settings: ServerConnection.ISettings): Promise<T> {
  return remember(jsonFiles, `${artifactId}/${path}`, () => getArtifactJson<T>(artifactId, path, settings)) as Promise<T>;
}

/** The share of each cell in its true label's row, its predicted column, or all samples. */
export function normalizeCounts(counts: number[][], how: 'true' | 'pred' | 'all'): number[][] {
  const n = counts.length;
  const rows = counts.map(r => r.reduce((a, b) => a + b, 0));
  const cols = Array.from({ length: n }, (_, j) => counts.reduce((a, r) => a + (r[j] ?? 0), 0));
  const all = rows.reduce((a, b) => a + b, 0);
  return counts.map((r, i) =>
    r.map((v, j) => {
      const d = how === 'true' ? rows[i] : how === 'pred' ? cols[j] : all;
      return d ? v / d : 0;
    })
  );
}

/** A confusion matrix as a grid: rows true labels, columns predicted, each cell shaded by its share of its row. */
export function ConfusionMatrixGrid(props: { matrix: ConfusionMatrix }): JSX.Element {
  const { matrix } = props;
  const [normalized, setNormalized] = React.useState(matrix.normalize !== null);
  const how = matrix.normalize ?? 'true';
  const shares = normalizeCounts(matrix.counts, how);
  const labels = matrix.labels.map(l => String(l));
  return (
    <div className="jp-mltrack-confusion">
      <label className="jp-mltrack-confusion-toggle">
        <input
          type="checkbox"
          className="jp-mltrack-confusion-normalize"
          checked={normalized}
          onChange={e => setNormalized(e.target.checked)}
        />
        Normalised ({how === 'true' ? 'by true label' : how === 'pred' ? 'by predicted label' : 'over all'})
      </label>
      <table className="jp-mltrack-confusion-grid">
        <thead>
          <tr>
            <th className="jp-mltrack-confusion-corner" title="rows: true label, columns: predicted label">
              true ╲ pred
            </th>
            {labels.map((l, j) => (
              <th key={j} scope="col">
                {l}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {matrix.counts.map((row, i) => (
            <tr key={i}>
              <th scope="row">{labels[i]}</th>
              {row.map((count, j) => {
                const share = shares[i][j];
                return (
                  <td
                    key={j}
                    className="jp-mltrack-confusion-cell"
                    data-true={labels[i]}
                    data-pred={labels[j]}
                    data-count={count}
                    title={`true ${labels[i]}, predicted ${labels[j]}: ${count} (${(share * 100).toFixed(1)} %)`}
                    style={{
                      background: `rgba(31, 119, 180, ${(0.08 + 0.92 * share).toFixed(3)})`,
                      color: share > 0.5 ? 'white' : undefined
                    }}
                  >
                    {normalized ? share.toFixed(2) : count}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface PlotlyLike {
  newPlot(el: HTMLElement, data: unknown, layout: unknown, config: unknown): Promise<unknown>;
  purge(el: HTMLElement): void;
}

let plotlyPromise: Promise<PlotlyLike> | null = null;

/** plotly.js as the server serves it to the notebook widgets (mltrack/static/plotly.min.js), loaded once. */
function loadPlotly(settings: ServerConnection.ISettings): Promise<PlotlyLike> {
  const w = window as unknown as { Plotly?: PlotlyLike };
  if (w.Plotly) {
    return Promise.resolve(w.Plotly);
  }
  if (!plotlyPromise) {
    plotlyPromise = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = settings.baseUrl.replace(/\/?$/, '/') + 'mltrack/static/plotly.min.js';
      s.onload = () => (w.Plotly ? resolve(w.Plotly) : reject(new Error('plotly.js did not load')));
      s.onerror = () => {
        plotlyPromise = null;
        reject(new Error('could not load plotly.js'));
      };
      document.head.appendChild(s);
    });
  }
  return plotlyPromise;
}

function PlotlyFigure(props: { step: FigureStep; name: string; settings: ServerConnection.ISettings }): JSX.Element {
  const { step, settings } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  const [failed, setFailed] = React.useState<string | null>(null);
  React.useEffect(() => {
    let live = true;
    const el = ref.current;
    Promise.all([
      loadPlotly(settings),
      artifactJson<{ data?: unknown; layout?: { [k: string]: unknown } }>(step.artifact_id, 'figure.json', settings)
    ]).then(
      ([Plotly, fig]) => {
        if (live && el) {
          // the sidebar is narrow: plotly's default margins (80 px a side) would leave the plot a sliver
          const narrow = el.clientWidth < 420;
          const layout = {
            ...(fig.layout ?? {}),
            autosize: true,
            ...(narrow ? { margin: { l: 40, r: 10, t: 30, b: 30 }, height: 260 } : {})
          };
          void Plotly.newPlot(el, fig.data ?? [], layout, { responsive: true, displaylogo: false });
        }
      },
      err => live && setFailed(errorMessage(err))
    );
    return () => {
      live = false;
      const Plotly = (window as unknown as { Plotly?: PlotlyLike }).Plotly;
      if (el && Plotly) {
        Plotly.purge(el);
      }
    };
  }, [step.artifact_id]);
  if (failed) {
    const png = fileOf(step, 'figure.png');
    return png ? (
      <ArtifactImage artifactId={step.artifact_id} path={png} alt={props.name} settings={settings} />
    ) : (
      <div className="jp-mltrack-error-message">{failed}</div>
    );
  }
  return <div className="jp-mltrack-figure-plotly" ref={ref} />;
}

function MatrixFigure(props: { step: FigureStep; settings: ServerConnection.ISettings }): JSX.Element {
  const { step, settings } = props;
  const res = useLoaded(`${step.artifact_id}/matrix.json`, () =>
    artifactJson<ConfusionMatrix>(step.artifact_id, 'matrix.json', settings)
  );
  if (res.error) {
    return <div className="jp-mltrack-error-message">{res.error}</div>;
  }
  return res.value ? <ConfusionMatrixGrid matrix={res.value} /> : <div className="jp-mltrack-figure-placeholder">Loading…</div>;
}

/** One step of a figure, drawn by its kind. */
export function FigureStepView(props: {
  figure: Figure;
  step: FigureStep | null;
  settings: ServerConnection.ISettings;
}): JSX.Element {
  const { figure, step, settings } = props;
  if (!step) {
    return <div className="jp-mltrack-figure-placeholder jp-mltrack-muted-text">no step here</div>;
  }
  if (figure.kind === 'confusion_matrix' && fileOf(step, 'matrix.json')) {
    return <MatrixFigure step={step} settings={settings} />;
  }
  if (figure.kind === 'plotly' && fileOf(step, 'figure.json')) {
    return <PlotlyFigure step={step} name={figure.key} settings={settings} />;
  }
  const path = fileOf(step, 'figure.svg', 'figure.png', 'image.png');
  return path ? (
    <ArtifactImage artifactId={step.artifact_id} path={path} alt={figure.key} settings={settings} />
  ) : (
    <div className="jp-mltrack-muted-text">nothing to show</div>
  );
}

/** The steps a slider moves over: the union of the figures' steps, sorted (null — no step — first). */
export function unionSteps(figures: (Figure | undefined)[]): (number | null)[] {
  const seen = new Set<number | null>();
  for (const f of figures) {
    for (const s of f?.steps ?? []) {
      seen.add(s.step);
    }
  }
  return Array.from(seen).sort((a, b) => (a === null ? -1 : b === null ? 1 : a - b));
}

/** The entry of `figure` shown at `step`: that step, else the last one before it (an image series logged less
 * often than another run's), else none. */
export function stepAt(figure: Figure | undefined, step: number | null): FigureStep | null {
  if (!figure || !figure.steps.length) {
    return null;
  }
  let best: FigureStep | null = null;
  for (const s of figure.steps) {
    if (s.step === step) {
      return s;
    }
    if (step !== null && s.step !== null && s.step <= step) {
      best = s;
    }
  }
  return best ?? (step === null ? figure.steps[figure.steps.length - 1] : null);
}

/** The step a slider shows: the one picked, or (none picked, or the last one picked) the newest, so a series still
 * logging keeps showing its latest image until the slider is moved back. */
export function usePickedStep(steps: (number | null)[]): [number, (i: number) => void] {
  const [picked, setPicked] = React.useState<{ step: number | null } | null>(null);
  const at = picked === null ? -1 : steps.indexOf(picked.step);
  const index = at < 0 ? steps.length - 1 : at;
  const onIndex = (i: number) => setPicked(i >= steps.length - 1 ? null : { step: steps[i] });
  return [Math.max(index, 0), onIndex];
}

/** A slider over `steps` (hidden when there is one step or none); shows the step chosen. */
export function StepSlider(props: {
  steps: (number | null)[];
  index: number;
  onIndex: (i: number) => void;
  label: string;
}): JSX.Element | null {
  const { steps, index } = props;
  if (steps.length < 2) {
    return null;
  }
  const at = steps[Math.min(index, steps.length - 1)];
  return (
    <div className="jp-mltrack-step-slider">
      <input
        type="range"
        min={0}
        max={steps.length - 1}
        step={1}
        value={Math.min(index, steps.length - 1)}
        aria-label={`Step of ${props.label}`}
        onChange={e => props.onIndex(Number(e.target.value))}
      />
      <span className="jp-mltrack-step-value" data-step={at ?? ''}>
        step {at ?? '–'}
      </span>
      <span className="jp-mltrack-muted-text">
        {' '}
        ({Math.min(index, steps.length - 1) + 1} of {steps.length})
      </span>
    </div>
  );
}

/** A figure of one run with its own slider (the run detail). */
export function FigureCard(props: { figure: Figure; settings: ServerConnection.ISettings }): JSX.Element {
  const { figure } = props;
  const steps = unionSteps([figure]);
  const [index, setIndex] = usePickedStep(steps);
  const current = steps.length ? steps[Math.min(index, steps.length - 1)] : null;
  return (
    <figure className="jp-mltrack-figure" data-figure={figure.key} data-kind={figure.kind}>
      <figcaption>
        <span className="jp-mltrack-figure-name">{figure.key}</span>{' '}
        <span className="jp-mltrack-muted-text">{figure.kind.replace('_', ' ')}</span>
      </figcaption>
      <StepSlider steps={steps} index={index} onIndex={setIndex} label={figure.key} />
      <FigureStepView figure={figure} step={stepAt(figure, current)} settings={props.settings} />
    </figure>
  );
}
