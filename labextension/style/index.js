import './base.css';
import './figures.css';
import 'uplot/dist/uPlot.min.css';
