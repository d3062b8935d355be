/** The explorer's Figures view: the selected runs side by side — one row per figure (name and context), one column
 * per run — with one step slider per figure shared by every run's column (each run shows its entry at that step, or
 * its last one before it). */
import * as React from 'react';

import { Figure, getRun, listFigures } from '../api';
import { runLabel } from '../format';
import { runColor } from '../explorer/chartData';
import { ErrorMessage, Loading } from '../sidebar/common';
import { useResource } from '../sidebar/hooks';
import { TrackerModel } from '../sidebar/model';
import { FigureStepView, stepAt, StepSlider, unionSteps, usePickedStep } from './FigureView';

/** Columns at most (a wider selection shows its first runs). */
export const MAX_FIGURE_RUNS = 8;

function FigureRow(props: {
  figureKey: string;
  runIds: string[];
  byRun: Map<string, Map<string, Figure>>;
  model: TrackerModel;
}): JSX.Element {
  const { figureKey, runIds, byRun, model } = props;
  const figures = runIds.map(id => byRun.get(id)?.get(figureKey));
  const steps = unionSteps(figures);
  const [index, setIndex] = usePickedStep(steps);
  const current = steps.length ? steps[Math.min(index, steps.length - 1)] : null;
  const kind = figures.find(f => f)?.kind ?? '';
  return (
    <section className="jp-mltrack-figures-row" data-figure={figureKey} data-kind={kind}>
      <header>
        <span className="jp-mltrack-figure-name">{figureKey}</span>{' '}
        <span className="jp-mltrack-muted-text">{kind.replace('_', ' ')}</span>
        <StepSlider steps={steps} index={index} onIndex={setIndex} label={figureKey} />
      </header>
      <div className="jp-mltrack-figures-cells" style={{ gridTemplateColumns: `repeat(${runIds.length}, minmax(0, 1fr))` }}>
        {runIds.map((id, i) => (
          <div key={id} className="jp-mltrack-figures-cell" data-run-id={id}>
            {figures[i] ? (
              <FigureStepView figure={figures[i] as Figure} step={stepAt(figures[i], current)} settings={model.settings} />
            ) : (
              <div className="jp-mltrack-muted-text">not logged by this run</div>
            )}
          </div>
        ))}
      </div>
    </section>
  );
}

export function FiguresCompare(props: {
  model: TrackerModel;
  runIds: string[];
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  const { model } = props;
  const runIds = props.runIds.slice(0, MAX_FIGURE_RUNS);
  const res = useResource<Figure[][]>(
    model,
    `explorer:figures:${runIds.join(',')}`,
    () => Promise.all(runIds.map(id => listFigures(id, model.settings))),
    { keepPrevious: true }
  );
  const labels = useResource<string[]>(model, `explorer:figure-runs:${runIds.join(',')}`, () =>
    Promise.all(runIds.map(id => getRun(id, model.settings).then(r => runLabel(r), () => id)))
  );
  if (!runIds.length) {
    return (
      <p className="jp-mltrack-muted-text jp-mltrack-explorer-empty">
        Select runs in the Runs tab to see their figures and images side by side.
      </p>
    );
  }
  if (!res.data) {
    return res.error ? <ErrorMessage title="Cannot load the figures" message={res.error} /> : <Loading what="figures" />;
  }
  const byRun = new Map<string, Map<string, Figure>>();
  const keys: string[] = [];
  res.data.forEach((figs, i) => {
    const m = new Map<string, Figure>();
    for (const f of figs) {
      m.set(f.key, f);
      if (!keys.includes(f.key)) {
        keys.push(f.key);
      }
    }
    byRun.set(runIds[i], m);
  });
  keys.sort();
  return (
    <div className="jp-mltrack-figures-compare" data-runs={runIds.length}>
      {res.error && <ErrorMessage message={res.error} />}
      {props.runIds.length > MAX_FIGURE_RUNS && (
        <p className="jp-mltrack-muted-text">
          The first {MAX_FIGURE_RUNS} of the {props.runIds.length} selected runs.
        </p>
      )}
      <div
        className="jp-mltrack-figures-cells jp-mltrack-figures-heads"
        style={{ gridTemplateColumns: `repeat(${runIds.length}, minmax(0, 1fr))` }}
      >
        {runIds.map((id, i) => (
          <button
            key={id}
            className="jp-mltrack-link-button jp-mltrack-figures-run"
            data-run-id={id}
            style={{ borderBottomColor: runColor(id) }}
            onClick={() => props.onOpenRun(id)}
            title={`Open the detail of run ${id}`}
          >
            {labels.data?.[i] ?? id}
          </button>
        ))}
      </div>
      {keys.length ? (
        keys.map(k => <FigureRow key={k} figureKey={k} runIds={runIds} byRun={byRun} model={model} />)
      ) : (
        <p className="jp-mltrack-muted-text">These runs logged no figures or images.</p>
      )}
    </div>
  );
}
