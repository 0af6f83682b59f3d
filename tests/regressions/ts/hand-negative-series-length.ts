@problemName H
@univariate true
@equalLength true
@seriesLength -3
@classLabel true a
@data
1,2,3:a
