/** The figures and images of one run (the run detail's Figures section): each with its own step slider. */
import * as React from 'react';

import { Figure, listFigures } from '../api';
import { ErrorMessage, RememberedSection } from '../sidebar/common';
import { useResource } from '../sidebar/hooks';
import { TrackerModel } from '../sidebar/model';
import { FigureCard } from './FigureView';

/** The run's figures, or nothing at all when it has none. */
export function RunFigures(props: { model: TrackerModel; runId: string }): JSX.Element | null {
  const { model, runId } = props;
  const res = useResource<Figure[]>(model, `figures:${runId}`, () => listFigures(runId, model.settings));
  const figures = res.data ?? [];
  if (!figures.length && !res.error) {
    return null;
  }
  return (
    <RememberedSection model={model} scope="section" name="figures" title="Figures" count={figures.length}>
      {res.error && <ErrorMessage message={res.error} />}
      <div className="jp-mltrack-figures">
        {figures.map(f => (
          <FigureCard key={f.key} figure={f} settings={model.settings} />
        ))}
      </div>
    </RememberedSection>
  );
}
