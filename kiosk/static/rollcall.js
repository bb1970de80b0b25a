// The roll call on screen: a tally of the boxes ticked, and each ticked row marked.
(() => {
  const count = document.getElementById("rc-ticked");
  const boxes = [...document.querySelectorAll(".rc-tick")];
  const update = () => {
    boxes.forEach((box) => box.closest("li").classList.toggle("ticked", box.checked));
    if (count) count.textContent = boxes.filter((box) => box.checked).length;
  };
  boxes.forEach((box) => box.addEventListener("change", update));
  update();  // a browser may restore ticks on "back"
})();
