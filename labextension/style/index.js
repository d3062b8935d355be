import './base.css';
import './figures.css';
import './edit.css';
import 'uplot/dist/uPlot.min.css';
