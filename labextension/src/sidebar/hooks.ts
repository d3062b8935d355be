/** React hooks binding the sidebar's components to the TrackerModel. */
import { ISignal } from '@lumino/signaling';
import { useEffect, useRef, useState } from 'react';

import { errorMessage } from '../api';
import { TrackerModel } from './model';

/** Re-render whenever `signal` is emitted. */
export function useSignal(signal: ISignal<unknown, unknown>): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const slot = () => setTick(t => t + 1);
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
}

export interface Resource<T> {
  /** The last answer for this key (kept while a reload is under way). */
  data: T | undefined;
  /** The message of the last failed load, null when the last load succeeded. */
  error: string | null;
  /** True until the first answer (or error) for this key. */
  loading: boolean;
}

interface State<T> extends Resource<T> {
  key: string;
}

/**
 * Load `key` with `load` when mounted, when the key changes and whenever the model's generation changes
 * (the server revision moved or the user refreshed). Old data stays on screen until the new answer arrives,
 * and identical answers do not re-render. With `keepPrevious`, a new key with nothing cached yet keeps showing
 * the previous key's data meanwhile (a list growing or being filtered), instead of a loading state.
 */
export function useResource<T>(
  model: TrackerModel,
  key: string,
  load: () => Promise<T>,
  options: { keepPrevious?: boolean } = {}
): Resource<T> {
  useSignal(model.dataChanged);
  const generation = model.generation;
  const fromCache = (): State<T> => ({
    key,
    data: model.cache.get(key) as T | undefined,
    error: null,
    loading: !model.cache.has(key)
  });
  const [state, setState] = useState<State<T>>(fromCache);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let cancelled = false;
    loadRef.current().then(
      data => {
        if (cancelled) {
          return;
        }
        const previous = model.cache.get(key);
        const same = previous !== undefined && JSON.stringify(previous) === JSON.stringify(data);
        if (!same) {
          model.cache.set(key, data);
        }
        // (another view sharing the key may have stored this data first: keep `s` only if it shows it)
        setState(s =>
          same && s.key === key && s.error === null && !s.loading && s.data === previous
            ? s
            : { key, data: same ? (previous as T) : data, error: null, loading: false }
        );
      },
      err => {
        if (!cancelled) {
          setState(s => ({
            key,
            data: s.key === key ? s.data : (model.cache.get(key) as T | undefined),
            error: errorMessage(err),
            loading: false
          }));
        }
      }
    );
    return () => {
      cancelled = true;
    };
  }, [key, generation, model]);

  if (state.key === key) {
    return state;
  }
  if (options.keepPrevious && !model.cache.has(key) && state.data !== undefined) {
    return { data: state.data, error: null, loading: true };
  }
  return fromCache();
}

/** The current time (ms), updated every `intervalMs` so relative times stay true. */
export function useNow(intervalMs = 15000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}
