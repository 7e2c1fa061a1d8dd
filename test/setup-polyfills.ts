import '@tlsmesh/mesh/polyfills'
